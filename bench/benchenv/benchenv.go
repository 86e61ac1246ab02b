// Package benchenv starts what the bench programs measure against: an
// embedded Temporal server and a worker on it.
package benchenv

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"

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
	srv, err := devserver.Start(ctx, devserver.Config{Dynamic: Dynamic})
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

// Dynamic is dynamic config set on the server over devserver's defaults,
// filled from the programs' repeatable -dynamic KEY=VALUE flag: a value
// that parses as an integer or a bool is one, else it is text (the server
// reads durations such as 5s from text).
var Dynamic = dynamicFlag{}

func init() {
	flag.Var(Dynamic, "dynamic", "`KEY=VALUE` of the Temporal server's dynamic config (repeatable)")
}

type dynamicFlag map[string]any

func (d dynamicFlag) String() string { return fmt.Sprint(map[string]any(d)) }

func (d dynamicFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", s)
	}
	if n, err := strconv.Atoi(v); err == nil {
		d[k] = n
	} else if b, err := strconv.ParseBool(v); err == nil {
		d[k] = b
	} else {
		d[k] = v
	}
	return nil
}
