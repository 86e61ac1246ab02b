package worker_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/codec"
	"github.com/opsrunbook/runbook/devserver"
	"github.com/opsrunbook/runbook/runbooks"
	"github.com/opsrunbook/runbook/worker"
	"github.com/opsrunbook/runbook/workflows"
)

// A worker without the key a run's input was encrypted with fails the
// run at its first task, saying which key it lacks: never a plain-text
// fallback, never a task retried without end.
func TestWorkerWithoutTheKey(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := devserver.Start(ctx, devserver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	dir := t.TempDir()
	for i, id := range []string{"k1", "k3"} {
		if err := os.WriteFile(filepath.Join(dir, id), []byte(strings.Repeat(string("13"[i]), 64)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	keys := func(ids ...string) *codec.Keys {
		var spec []string
		for _, id := range ids {
			spec = append(spec, id+"="+filepath.Join(dir, id))
		}
		k, err := codec.ParseKeys(strings.Join(spec, ","))
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	// The starter encrypts with k1 and reads k3 too, so it can read the
	// failure the worker (k3 only) writes.
	k1, k3 := keys("k1", "k3"), keys("k3")
	starter, err := s.ClientWith(client.Options{DataConverter: k1.DataConverter(), FailureConverter: k1.FailureConverter()})
	if err != nil {
		t.Fatal(err)
	}
	defer starter.Close()
	wc, err := s.ClientWith(client.Options{DataConverter: k3.DataConverter(), FailureConverter: k3.FailureConverter()})
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close()
	w := worker.New(wc, worker.Options{Actions: &activities.Env{}})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	p, _, err := runbooks.Build("t.yaml", []byte(`apiVersion: runbook/v1
kind: Runbook
metadata: {name: t}
spec:
  steps:
    - {id: hi, action: log, with: {message: hi}}
`), runbooks.Options{Actions: activities.Catalog()})
	if err != nil {
		t.Fatal(err)
	}
	run, err := starter.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "t-nokey", TaskQueue: worker.TaskQueue}, workflows.WorkflowName,
		workflows.RunInput{Plan: p, Params: map[string]any{}, StartedBy: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	err = run.Get(wctx, nil)
	if err == nil || !strings.Contains(err.Error(), `payload encrypted with key "k1", which this process does not have (keys: k3)`) {
		t.Errorf("the run: %v", err)
	}
	d, err := starter.DescribeWorkflowExecution(ctx, "t-nokey", "")
	if err != nil {
		t.Fatal(err)
	}
	if info := d.WorkflowExecutionInfo; info.Status != enumspb.WORKFLOW_EXECUTION_STATUS_FAILED || info.HistoryLength != 5 {
		t.Errorf("the run: %v after %d events (started, first task scheduled, started, completed, failed)", info.Status, info.HistoryLength)
	}
}
