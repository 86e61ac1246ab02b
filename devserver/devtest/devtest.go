// Package devtest gives a test binary one embedded Temporal server with a
// runbook worker, started on first use and stopped when the tests end.
package devtest

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/devserver"
	"github.com/opsrunbook/runbook/worker"
)

var (
	mu      sync.Mutex
	srv     *devserver.Server
	cl      client.Client
	running sdkworker.Worker
)

// Main runs the tests, then stops the shared server: call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	mu.Lock()
	if srv != nil {
		running.Stop()
		cl.Close()
		_ = srv.Stop()
	}
	mu.Unlock()
	os.Exit(code)
}

// Client returns a client of the shared server, starting it (and a worker
// that reads secrets from RUNBOOK_SECRET_* variables) on first use. It skips
// the test with -short.
func Client(t *testing.T) client.Client {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	mu.Lock()
	defer mu.Unlock()
	if srv != nil {
		return cl
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := devserver.Start(ctx, devserver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Client()
	if err != nil {
		_ = s.Stop()
		t.Fatal(err)
	}
	w := worker.New(c, worker.Options{Actions: &activities.Env{Secrets: activities.EnvSecrets{}}})
	if err := w.Start(); err != nil {
		c.Close()
		_ = s.Stop()
		t.Fatal(err)
	}
	srv, cl, running = s, c, w
	return cl
}
