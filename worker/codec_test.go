package worker_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/codec"
	"github.com/opsrunbook/runbook/devserver"
	"github.com/opsrunbook/runbook/runbooks"
	"github.com/opsrunbook/runbook/worker"
	"github.com/opsrunbook/runbook/workflows"
)

// keyring writes a key file for each id (key i is the digit i+1 64
// times) and returns the Keys of the ids asked for, the first encrypting.
// keyClient is a client of s that encrypts and decrypts with k, closed
// at the test's end.
func keyClient(t *testing.T, s *devserver.Server, k *codec.Keys) client.Client {
	t.Helper()
	c, err := s.ClientWith(client.Options{DataConverter: k.DataConverter(), FailureConverter: k.FailureConverter()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func keyring(t *testing.T, all ...string) func(ids ...string) *codec.Keys {
	t.Helper()
	dir := t.TempDir()
	for i, id := range all {
		if err := os.WriteFile(filepath.Join(dir, id), []byte(strings.Repeat(fmt.Sprint(i+1), 64)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return func(ids ...string) *codec.Keys {
		t.Helper()
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
}

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
	keys := keyring(t, "k1", "k3")
	// The starter encrypts with k1 and reads k3 too, so it can read the
	// failure the worker (k3 only) writes.
	k1, k3 := keys("k1", "k3"), keys("k3")
	starter := keyClient(t, s, k1)
	wc := keyClient(t, s, k3)
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
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != codec.ErrorType || !app.NonRetryable() ||
		!strings.Contains(app.Message(), `payload encrypted with key "k1", which this process does not have (keys: k3): unknown encryption key`) {
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

// An action whose input its worker cannot decrypt fails at its first
// attempt with a non-retryable CodecKey error naming the key, however
// many attempts the step's retry policy allows: no worker without the
// key can run it. The step then fails the run, or with continueOnError
// the run goes on. Here the run's worker (keys k2, k1) runs no actions
// and the only action worker has k1, not k2, which the run's worker
// encrypts the actions' inputs with.
func TestActionWorkerWithoutTheKey(t *testing.T) {
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
	keys := keyring(t, "k1", "k2")
	k21, k1 := keys("k2", "k1"), keys("k1")
	wc := keyClient(t, s, k21)
	ac := keyClient(t, s, k1)
	env := &activities.Env{Secrets: activities.EnvSecrets{}}
	runs := sdkworker.New(wc, worker.TaskQueue, sdkworker.Options{LocalActivityWorkerOnly: true})
	actions := sdkworker.New(ac, worker.TaskQueue, sdkworker.Options{DisableWorkflowWorker: true})
	worker.Register(runs, env)
	worker.RegisterActions(actions, env)
	for _, w := range []sdkworker.Worker{runs, actions} {
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
	}
	p, _, err := runbooks.Build("t.yaml", []byte(`apiVersion: runbook/v1
kind: Runbook
metadata: {name: t}
spec:
  steps:
    - {id: tolerated, action: log, with: {message: one}, retry: {maxAttempts: 5, initialInterval: 1s}, continueOnError: true}
    - {id: fatal, action: log, with: {message: two}, retry: {maxAttempts: 5, initialInterval: 1s}}
    - {id: never, action: log, with: {message: three}}
`), runbooks.Options{Actions: activities.Catalog()})
	if err != nil {
		t.Fatal(err)
	}
	run, err := wc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "t-action-nokey", TaskQueue: worker.TaskQueue}, workflows.WorkflowName,
		workflows.RunInput{Plan: p, Params: map[string]any{}, StartedBy: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	defer wcancel()
	err = run.Get(wctx, nil)
	const why = `unable to decode the activity function input payload with error: codec: payload encrypted with key "k2", which this process does not have (keys: k1): unknown encryption key for function name: log`
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != codec.ErrorType || app.Message() != why {
		t.Fatalf("the run: %v", err)
	}
	v, err := wc.QueryWorkflow(ctx, "t-action-nokey", "", workflows.QueryStatus)
	if err != nil {
		t.Fatal(err)
	}
	var st workflows.Status
	if err := v.Get(&st); err != nil {
		t.Fatal(err)
	}
	if st.Status != workflows.RunFailed || st.FailedStep != "fatal" || st.ErrorType != codec.ErrorType || st.Error != why {
		t.Errorf("run %s at %s: %s (%s)", st.Status, st.FailedStep, st.Error, st.ErrorType)
	}
	want := map[string]workflows.StepState{
		"tolerated": {Status: workflows.StatusFailed, Attempts: 1, Error: why, ErrorType: codec.ErrorType},
		"fatal":     {Status: workflows.StatusFailed, Attempts: 1, Error: why, ErrorType: codec.ErrorType},
		"never":     {Status: workflows.StatusPending},
	}
	if len(st.Steps) != len(want) {
		t.Fatalf("steps: %+v", st.Steps)
	}
	for _, got := range st.Steps {
		w := want[got.ID]
		if got.Status != w.Status || got.Attempts != w.Attempts || got.Error != w.Error || got.ErrorType != w.ErrorType {
			t.Errorf("step %s: %s, %d attempts, %s (%s); want %s, %d attempts, %s (%s)", got.ID, got.Status, got.Attempts, got.Error, got.ErrorType, w.Status, w.Attempts, w.Error, w.ErrorType)
		}
	}
	// The history: each action scheduled once with 5 attempts allowed,
	// started at attempt 1, failed non-retryably; no other attempt.
	var acts []string
	it := wc.GetWorkflowHistory(ctx, "t-action-nokey", "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		switch a := e.Attributes.(type) {
		case *historypb.HistoryEvent_ActivityTaskScheduledEventAttributes:
			acts = append(acts, fmt.Sprintf("scheduled %s, %d attempts", a.ActivityTaskScheduledEventAttributes.GetActivityType().GetName(),
				a.ActivityTaskScheduledEventAttributes.GetRetryPolicy().GetMaximumAttempts()))
		case *historypb.HistoryEvent_ActivityTaskStartedEventAttributes:
			acts = append(acts, fmt.Sprintf("started attempt %d", a.ActivityTaskStartedEventAttributes.GetAttempt()))
		case *historypb.HistoryEvent_ActivityTaskFailedEventAttributes:
			f := a.ActivityTaskFailedEventAttributes.GetFailure()
			info := f.GetApplicationFailureInfo()
			acts = append(acts, fmt.Sprintf("failed %s non-retryable=%v %s, message %q", info.GetType(), info.GetNonRetryable(),
				a.ActivityTaskFailedEventAttributes.GetRetryState(), f.GetMessage()))
		case *historypb.HistoryEvent_ActivityTaskCompletedEventAttributes, *historypb.HistoryEvent_ActivityTaskTimedOutEventAttributes,
			*historypb.HistoryEvent_ActivityTaskCanceledEventAttributes:
			acts = append(acts, e.EventType.String())
		}
	}
	once := []string{"scheduled log, 5 attempts", "started attempt 1", `failed CodecKey non-retryable=true NonRetryableFailure, message "Encoded failure"`}
	if got, want := strings.Join(acts, "\n"), strings.Join(append(once, once...), "\n"); got != want {
		t.Errorf("the actions' history:\n%s\nwant:\n%s", got, want)
	}
}
