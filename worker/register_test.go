package worker_test

import (
	"io"
	"log/slog"
	"testing"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/runbooks"
	"github.com/opsrunbook/runbook/worker"
	"github.com/opsrunbook/runbook/workflows"
)

// runOnWorker runs src on the workflow and the real actions as
// worker.Register registers them, and returns the final status.
func runOnWorker(t *testing.T, env *activities.Env, src string) *workflows.Status {
	t.Helper()
	p, _, err := runbooks.Build("t.yaml", []byte(src), runbooks.Options{Actions: activities.Catalog()})
	if err != nil {
		t.Fatal(err)
	}
	params, err := p.BindParams(nil)
	if err != nil {
		t.Fatal(err)
	}
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	te := s.NewTestWorkflowEnvironment()
	worker.Register(te, env)
	te.ExecuteWorkflow(workflows.WorkflowName, workflows.RunInput{Plan: p, Params: params, Trigger: "api", TriggeredBy: "ann", StartedBy: "ann", Version: 1})
	if !te.IsWorkflowCompleted() {
		t.Fatal("the run did not complete")
	}
	v, err := te.QueryWorkflow(workflows.QueryStatus)
	if err != nil {
		t.Fatal(err)
	}
	var st workflows.Status
	if err := v.Get(&st); err != nil {
		t.Fatal(err)
	}
	return &st
}

const head = "apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: t}\nspec:\n"

// A step whose every attempt failed shows how many there were.
func TestFailedStepShowsItsAttempts(t *testing.T) {
	s := runOnWorker(t, &activities.Env{Secrets: activities.EnvSecrets{}}, head+`  steps:
    - {id: fails, action: shell, with: {command: ["false"]}, retry: {maxAttempts: 3, initialInterval: 1s}}
`)
	st := s.Steps[0]
	if s.Status != workflows.RunFailed || st.ErrorType != activities.ErrShellExit || st.Attempts != 3 {
		t.Errorf("run %s; step %s: %s (%s), attempts %d; want failed, ShellExitError, 3", s.Status, st.ID, st.Error, st.ErrorType, st.Attempts)
	}
}
