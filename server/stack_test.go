package server

import (
	"context"
	"os"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/devserver"
	"github.com/opsrunbook/runbook/worker"
)

// One embedded Temporal server and worker serve every test of the package.
var (
	shared       *devserver.Server
	sharedClient client.Client
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		sharedClient.Close()
		_ = shared.Stop()
	}
	os.Exit(code)
}

func temporalStack(t *testing.T) client.Client {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	if shared != nil {
		return sharedClient
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := devserver.Start(ctx, devserver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	w := worker.New(c, worker.Options{Actions: &activities.Env{Secrets: activities.EnvSecrets{}}})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	shared, sharedClient = srv, c
	return c
}
