package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/devserver"
	"github.com/opsrunbook/runbook/runbooks"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/worker"
	"github.com/opsrunbook/runbook/workflows"
)

func TestWorkerCommandRunsRunbooksAndStops(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := devserver.Start(ctx, devserver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	db := filepath.Join(t.TempDir(), "records.db")
	var out bytes.Buffer
	go func() {
		done <- workerMain(wctx, []string{"--temporal", srv.HostPort(), "--namespace", srv.Namespace(), "--db", db}, &out, &out)
	}()
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p, _, err := runbooks.Build("w.yaml", []byte("apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: w}\nspec:\n  steps: [{id: a, action: shell, with: {command: [echo, hi]}}]\n  outputs: {out: steps.a.outputs.stdout}\n"),
		runbooks.Options{Actions: activities.Catalog()})
	if err != nil {
		t.Fatal(err)
	}
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "w-1", TaskQueue: worker.TaskQueue}, workflows.WorkflowName, workflows.RunInput{Plan: p})
	if err != nil {
		t.Fatal(err)
	}
	var res workflows.RunResult
	if err := run.Get(ctx, &res); err != nil || res.Outputs["out"] != "hi\n" {
		t.Fatalf("run: %+v, %v", res, err)
	}
	// The step's lines went to the database --db named.
	st, err := store.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	lines, _, err := st.Logs(ctx, store.LogQuery{RunID: "w-1", Limit: 10})
	if err != nil || len(lines) != 1 || lines[0].Step != "a" || lines[0].Stream != "stdout" || lines[0].Text != "hi" {
		t.Errorf("lines: %+v, %v", lines, err)
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("worker: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the worker did not stop")
	}
}

// A worker without a database says that step logs are not kept.
func TestWorkerWithoutADatabaseWarns(t *testing.T) {
	t.Setenv("RUNBOOK_DB", "")
	var out bytes.Buffer
	err := workerMain(context.Background(), []string{"--temporal", "127.0.0.1:1"}, &out, &out)
	if err == nil || !strings.HasPrefix(out.String(), "warning: no --db (RUNBOOK_DB): step logs are not kept, only the tail a failed step's error carries\n") {
		t.Errorf("worker: %v\n%s", err, out.String())
	}
}
