package web

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Failed sign-ins a client address may make within LoginWindow before
// further sign-ins from it are answered 429 until the oldest failure is
// LoginWindow old.
const (
	DefaultLoginFailures = 10
	DefaultLoginWindow   = 10 * time.Minute
)

// maxTrackedAddresses bounds the limiter's memory: past it, addresses
// whose failures are all old are forgotten first, then any.
const maxTrackedAddresses = 100_000

// loginLimiter counts failed sign-ins per client address in a sliding
// window. It lives in the process: each replica counts its own.
type loginLimiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	failed map[string][]time.Time
}

func newLoginLimiter(max int, window time.Duration) *loginLimiter {
	if max <= 0 {
		max = DefaultLoginFailures
	}
	if window <= 0 {
		window = DefaultLoginWindow
	}
	return &loginLimiter{max: max, window: window, failed: map[string][]time.Time{}}
}

// recent is addr's failures within the window, forgetting older ones.
func (l *loginLimiter) recent(addr string, now time.Time) []time.Time {
	times := l.failed[addr]
	i := 0
	for i < len(times) && now.Sub(times[i]) >= l.window {
		i++
	}
	times = times[i:]
	if len(times) == 0 {
		delete(l.failed, addr)
		return nil
	}
	l.failed[addr] = times
	return times
}

// wait is how long addr must wait before signing in again: 0 when it may.
func (l *loginLimiter) wait(addr string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	times := l.recent(addr, now)
	if len(times) < l.max {
		return 0
	}
	return times[len(times)-l.max].Add(l.window).Sub(now)
}

// fail counts a failed sign-in from addr.
func (l *loginLimiter) fail(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if _, ok := l.failed[addr]; !ok && len(l.failed) >= maxTrackedAddresses {
		for a := range l.failed {
			l.recent(a, now)
		}
		for a := range l.failed {
			if len(l.failed) < maxTrackedAddresses {
				break
			}
			delete(l.failed, a)
		}
	}
	times := append(l.recent(addr, now), now)
	if len(times) > l.max {
		times = times[len(times)-l.max:]
	}
	l.failed[addr] = times
}

// clientAddress is who a sign-in comes from, for the audit: the
// connection's IP address (a forwarded header is anyone's to write).
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// limitKey is whose failed sign-ins a request counts toward: its client
// address, an IPv6 one by its /64, which one host commonly holds whole.
func limitKey(r *http.Request) string {
	host := clientAddress(r)
	ip := net.ParseIP(host)
	if ip == nil || ip.To4() != nil {
		return host
	}
	return (&net.IPNet{IP: ip.Mask(net.CIDRMask(64, 128)), Mask: net.CIDRMask(64, 128)}).String()
}

// tooMany answers a sign-in from an address past the limit: 429 with
// Retry-After, and the login page saying when to try again.
func (c *Console) tooMany(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	secs := int((wait + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	c.showLogin(w, r, http.StatusTooManyRequests,
		fmt.Sprintf("too many failed sign-ins from your address: try again in %v", time.Duration(secs)*time.Second))
}
