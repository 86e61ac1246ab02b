package devserver

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// A port of the server's taken by another process fails Start with an
// error (every attempt, when it is the frontend's own port, which Start
// does not pick), never a crash of the process.
func TestStartWithItsPortTakenFails(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Start(ctx, Config{Port: l.Addr().(*net.TCPAddr).Port})
	if err == nil {
		s.Stop()
		t.Fatal("started on a port another listener holds")
	}
	if !errors.Is(err, errPortTaken) {
		t.Errorf("error: %v, want errPortTaken", err)
	}
}
