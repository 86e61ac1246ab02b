package worker_test

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/opsrunbook/runbook/plan"

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
	if s.Status != workflows.RunFailed || st.ErrorType != plan.ErrShellExit || st.Attempts != 3 {
		t.Errorf("run %s; step %s: %s (%s), attempts %d; want failed, ShellExitError, 3", s.Status, st.ID, st.Error, st.ErrorType, st.Attempts)
	}
}

// The worker answers the run's secrets check: a secret it cannot resolve
// fails the run before the step that reads it, or any other, runs.
func TestRunFailsBeforeItsFirstStepOnAMissingSecret(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "restarted")
	t.Setenv("RUNBOOK_SECRET_PRESENT_ONE", "present-value")
	s := runOnWorker(t, &activities.Env{Secrets: activities.EnvSecrets{}}, head+`  secrets: [PRESENT_ONE, ABSENT_ONE]
  steps:
    - {id: restart, action: shell, with: {command: [touch, `+marker+`], env: {P: "${{ secrets.PRESENT_ONE }}"}}}
    - {id: last, action: shell, with: {command: ["true"], env: {A: "${{ secrets.ABSENT_ONE }}"}}}
`)
	want := "secrets the run reads cannot be resolved on the worker: missing ABSENT_ONE (checked when the run starts)"
	if s.Status != workflows.RunFailed || s.ErrorType != plan.ErrSecret || s.Error != want {
		t.Errorf("run %s: %s (%s); want failed: %s", s.Status, s.Error, s.ErrorType, want)
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Errorf("the first step ran: %v", err)
	}
}
