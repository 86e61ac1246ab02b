package devtest

import (
	"net"
	"sync"
	"testing"
)

// Proxy forwards TCP connections to a target (a real database) until the
// test pauses it: paused, it still accepts connections but forwards no
// byte either way, as a network partition does. Stop closes it and every
// connection: the target is down.
type Proxy struct {
	Addr   string // host:port to connect to instead of the target
	target string
	ln     net.Listener

	mu      sync.Mutex
	resumed chan struct{} // nil while forwarding; closed by Resume
	stopped chan struct{}
	conns   []net.Conn
}

// StartProxy listens on 127.0.0.1 and forwards to target; it stops when
// the test ends.
func StartProxy(t *testing.T, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Addr: ln.Addr().String(), target: target, ln: ln, stopped: make(chan struct{})}
	go p.accept()
	t.Cleanup(p.Stop)
	return p
}

// Pause stops forwarding: bytes sent either way are held.
func (p *Proxy) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.resumed == nil {
		p.resumed = make(chan struct{})
	}
}

// Resume forwards again, the held bytes first.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.resumed != nil {
		close(p.resumed)
		p.resumed = nil
	}
}

// Stop refuses new connections and closes every open one.
func (p *Proxy) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.stopped:
		return
	default:
	}
	close(p.stopped)
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
}

// gate waits while the proxy is paused; false once it is stopped.
func (p *Proxy) gate() bool {
	p.mu.Lock()
	wait := p.resumed
	p.mu.Unlock()
	if wait == nil {
		return true
	}
	select {
	case <-wait:
		return true
	case <-p.stopped:
		return false
	}
}

// track keeps c to close at Stop; false when already stopped.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.stopped:
		c.Close()
		return false
	default:
		p.conns = append(p.conns, c)
		return true
	}
}

func (p *Proxy) accept() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.track(in) {
			go p.forward(in)
		}
	}
}

func (p *Proxy) forward(in net.Conn) {
	if !p.gate() {
		return
	}
	out, err := net.Dial("tcp", p.target)
	if err != nil {
		in.Close()
		return
	}
	if !p.track(out) {
		in.Close()
		return
	}
	go p.pipe(out, in)
	p.pipe(in, out)
}

// pipe copies from src to dst, holding each chunk while paused.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.gate() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
