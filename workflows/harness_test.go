package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/plan"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/runbooks"
	"github.com/opsrunbook/runbook/workflows"
)

// action is a mocked action: it gets the rendered input and returns
// outputs or an error.
type action func(in plan.ActionInput) (map[string]any, error)

// harness runs plans in the SDK's test environment with mocked actions
// and records every call.
type harness struct {
	t     *testing.T
	env   *testsuite.TestWorkflowEnvironment
	mu    sync.Mutex
	calls []call

	secrets string // the worker's secrets directory
}

type call struct {
	action string
	in     plan.ActionInput
}

func newHarness(t *testing.T, actions map[string]action) *harness {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	h := &harness{t: t, env: s.NewTestWorkflowEnvironment()}
	h.env.RegisterWorkflowWithOptions(workflows.RunbookWorkflow, workflow.RegisterOptions{Name: workflows.WorkflowName})
	for _, spec := range activities.Catalog().Actions() {
		name := spec.Name
		fn := actions[name]
		h.env.RegisterActivityWithOptions(activities.WithAttempt(func(ctx context.Context, in plan.ActionInput) (plan.ActionOutput, error) {
			h.mu.Lock()
			h.calls = append(h.calls, call{name, in})
			h.mu.Unlock()
			if fn == nil {
				return plan.ActionOutput{Outputs: map[string]any{}}, nil
			}
			out, err := fn(in)
			return plan.ActionOutput{Outputs: out}, err
		}), activity.RegisterOptions{Name: name})
	}
	// The secrets check is the worker's, on a real secrets directory.
	h.secrets = t.TempDir()
	for _, name := range []string{"HOOK", "TOKEN"} {
		h.setSecret(name, "value-of-"+name)
	}
	h.env.RegisterActivityWithOptions((&activities.Env{Secrets: activities.DirSecrets(h.secrets)}).CheckSecrets,
		activity.RegisterOptions{Name: plan.SecretsCheck})
	return h
}

// setSecret sets a secret of the worker's directory; "" removes it.
func (h *harness) setSecret(name, value string) {
	h.t.Helper()
	path := filepath.Join(h.secrets, name)
	if value == "" {
		if err := os.Remove(path); err != nil {
			h.t.Fatal(err)
		}
		return
	}
	if err := os.WriteFile(path, []byte(value), 0o600); err != nil {
		h.t.Fatal(err)
	}
}

// compile compiles src or fails the test.
func compile(t *testing.T, src string) *plan.Plan {
	t.Helper()
	p, _, err := runbooks.Build("test.yaml", []byte(src), runbooks.Options{Actions: activities.Catalog()})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// run executes src with params, started by ann through the API.
func (h *harness) run(src string, params map[string]any) {
	h.t.Helper()
	p := compile(h.t, src)
	bound, err := p.BindParams(params)
	if err != nil {
		h.t.Fatal(err)
	}
	h.env.ExecuteWorkflow(workflows.WorkflowName, workflows.RunInput{Plan: p, Params: bound, Trigger: "api", TriggeredBy: "ann", Version: 1})
}

// result returns the run's result and the error's type, if it failed.
func (h *harness) result() (*workflows.RunResult, string) {
	h.t.Helper()
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatal("the run did not complete")
	}
	if err := h.env.GetWorkflowError(); err != nil {
		var app *temporal.ApplicationError
		if errors.As(err, &app) {
			return nil, app.Type()
		}
		var canceled *temporal.CanceledError
		if errors.As(err, &canceled) {
			return nil, "Canceled"
		}
		return nil, err.Error()
	}
	var res workflows.RunResult
	if err := h.env.GetWorkflowResult(&res); err != nil {
		h.t.Fatal(err)
	}
	return &res, ""
}

// status queries the run's timeline.
func (h *harness) status() *workflows.Status {
	h.t.Helper()
	v, err := h.env.QueryWorkflow(workflows.QueryStatus)
	if err != nil {
		h.t.Fatal(err)
	}
	var s workflows.Status
	if err := v.Get(&s); err != nil {
		h.t.Fatal(err)
	}
	return &s
}

// stepOf finds a step's (first) timeline entry.
func stepOf(t *testing.T, s *workflows.Status, id string) workflows.StepState {
	t.Helper()
	for _, st := range s.Steps {
		if st.ID == id {
			return st
		}
	}
	t.Fatalf("no step %q in the timeline", id)
	return workflows.StepState{}
}

// called lists the steps that ran an action, in order.
func (h *harness) called(action string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, c := range h.calls {
		if action == "" || c.action == action {
			out = append(out, c.in.StepID)
		}
	}
	return out
}

// vote posts a vote after delay and records how it was answered.
func (h *harness) vote(delay time.Duration, req workflows.VoteRequest, answer *error) {
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(workflows.UpdateApprove, fmt.Sprintf("%s-%s-%s", req.User, req.Step, delay), &testsuite.TestUpdateCallback{
			OnAccept:   func() {},
			OnReject:   func(err error) { *answer = err },
			OnComplete: func(_ any, err error) { *answer = err },
		}, req)
	}, delay)
}

const head = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: t}
spec:
`
