// Package benchenv starts what the bench programs measure against: an
// embedded Temporal server and a worker on it.
package benchenv

import (
	"context"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/opsrunbook/runbook/devserver"
	"github.com/opsrunbook/runbook/worker"
)

// Env is a running server, a client of it and a worker.
type Env struct {
	Client client.Client
	Worker sdkworker.Worker
	srv    *devserver.Server
}

// Start starts the server and a worker with opts; prepare, when given,
// registers more on the worker before it starts. Stop stops them all.
func Start(ctx context.Context, opts worker.Options, prepare func(sdkworker.Worker)) (*Env, error) {
	srv, err := devserver.Start(ctx, devserver.Config{})
	if err != nil {
		return nil, err
	}
	c, err := srv.Client()
	if err != nil {
		srv.Stop()
		return nil, err
	}
	w := worker.New(c, opts)
	if prepare != nil {
		prepare(w)
	}
	if err := w.Start(); err != nil {
		c.Close()
		srv.Stop()
		return nil, err
	}
	return &Env{Client: c, Worker: w, srv: srv}, nil
}

// Stop stops the worker, the client and the server.
func (e *Env) Stop() {
	e.Worker.Stop()
	e.Client.Close()
	e.srv.Stop()
}
