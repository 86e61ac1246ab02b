package benchenv

import (
	"net"
	"net/http"
	"os"
	"path/filepath"

	"go.temporal.io/sdk/client"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/server"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/worker"
)

// API is the HTTP API on 127.0.0.1 over records, as `runbook server` runs
// it, with an admin token.
type API struct {
	API *server.API
	// Base is its URL; Records says which records ("SQLite file" or
	// "Postgres").
	Base, Records, Token string
	Store                *store.Store
	hs                   *http.Server
	dir                  string
}

// StartAPI serves the API on c's Temporal with records in dsn (a
// postgres:// URL), or in a new SQLite file when dsn is empty.
func StartAPI(c client.Client, dsn string) (_ *API, err error) {
	a := &API{Records: "Postgres"}
	defer func() {
		if err != nil {
			a.Stop()
		}
	}()
	if dsn == "" {
		if a.dir, err = os.MkdirTemp("", "runbook-bench-"); err != nil {
			return nil, err
		}
		dsn, a.Records = filepath.Join(a.dir, "runbook.db"), "SQLite file"
	}
	if a.Store, err = store.Open(dsn); err != nil {
		return nil, err
	}
	a.API = &server.API{Store: a.Store, Temporal: c, TaskQueue: worker.TaskQueue, Catalog: activities.Catalog(),
		Scheduler: &server.Scheduler{Client: c, TaskQueue: worker.TaskQueue}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	a.hs = &http.Server{Handler: a.API.Handler()}
	go a.hs.Serve(l)
	a.Base = "http://" + l.Addr().String()
	if a.Token, _, err = a.Store.CreateToken("bench", []string{"admin"}, nil); err != nil {
		return nil, err
	}
	return a, nil
}

// Stop stops serving and closes the records.
func (a *API) Stop() {
	if a.hs != nil {
		a.hs.Close()
	}
	if a.Store != nil {
		a.Store.Close()
	}
	if a.dir != "" {
		os.RemoveAll(a.dir)
	}
}
