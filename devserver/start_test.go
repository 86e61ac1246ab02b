package devserver

import (
	"errors"
	"testing"
)

// panicky starts as Temporal's membership layer does when a port it was
// given is taken: with a panic.
type panicky struct{ stopped bool }

func (p *panicky) Start() error {
	panic("runtime error: invalid memory address or nil pointer dereference")
}
func (p *panicky) Stop() error { p.stopped = true; panic("stop of a server that did not start") }

// A start that loses a port is errPortTaken, which Start tries again with
// other ports, never a crash of the process.
func TestStartServerTurnsAPanicIntoErrPortTaken(t *testing.T) {
	p := &panicky{}
	err := startServer(p)
	if !errors.Is(err, errPortTaken) || !p.stopped {
		t.Errorf("startServer: %v (stopped %v)", err, p.stopped)
	}
}
