package cluster

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"time"
)

// RoundRobin is the load balancer in front of the API processes: each
// request goes to the next one, whether it is up or not (a dead one
// answers 502, as a balancer without health checks would), so a client
// sees the kill of an API process.
type RoundRobin struct {
	backends []*httputil.ReverseProxy
	next     atomic.Uint64
}

// NewRoundRobin balances over the base URLs.
func NewRoundRobin(bases []string) (*RoundRobin, error) {
	rr := &RoundRobin{}
	for _, b := range bases {
		u, err := url.Parse(b)
		if err != nil {
			return nil, err
		}
		p := httputil.NewSingleHostReverseProxy(u)
		// Streams (run events) go out as they come.
		p.FlushInterval = -1
		p.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprintf(w, `{"error": "upstream %s: unavailable", "details": []}`, u.Host)
		}
		rr.backends = append(rr.backends, p)
	}
	return rr, nil
}

func (rr *RoundRobin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := rr.next.Add(1) % uint64(len(rr.backends))
	rr.backends[i].ServeHTTP(w, r)
}

func (c *Cluster) startProxy() error {
	rr, err := NewRoundRobin(c.serverAddrs)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", c.opts.Listen)
	if err != nil {
		return fmt.Errorf("round-robin: %w", err)
	}
	srv := &http.Server{Handler: rr, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	c.Proxy, c.proxyServer, c.API = rr, srv, "http://"+l.Addr().String()
	return nil
}

func waitHTTP(u string, timeout time.Duration) error {
	var last string
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(u)
		if err != nil {
			last = err.Error()
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil
		}
		last = resp.Status
	}
	return fmt.Errorf("%s: %s", u, last)
}

// quiet drops the SDK's logs while the cluster waits for Temporal.
type quiet struct{}

func (quiet) Debug(string, ...any) {}
func (quiet) Info(string, ...any)  {}
func (quiet) Warn(string, ...any)  {}
func (quiet) Error(string, ...any) {}
