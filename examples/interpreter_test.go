package examples_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/runbooks"
	"github.com/opsrunbook/runbook/worker"
	"github.com/opsrunbook/runbook/workflows"
)

// TestApprovalsAndEventsOnTheRealServer drives a run through the real
// Update and signal paths: votes refused by the validator come back with
// their types, approvals with inputs, an event from a sender, a child run,
// vars and exit.
func TestApprovalsAndEventsOnTheRealServer(t *testing.T) {
	s := startStack(t)
	child := `apiVersion: runbook/v1
kind: Runbook
metadata: {name: child}
spec:
  params: [{name: size, type: int, required: true}]
  steps:
    - {id: grow, action: shell, with: {command: [echo, "${{ string(params.size) }}"]}}
  outputs:
    said: steps.grow.outputs.stdout.trim()
`
	parent := `apiVersion: runbook/v1
kind: Runbook
metadata: {name: parent}
spec:
  steps:
    - id: gate
      approval:
        approvers: ["group:board"]
        minApprovals: 2
        inputs: [{name: size, type: int, min: 1, required: true}]
    - {id: ready, waitFor: {event: go, timeout: 5m, senders: [ops]}}
    - {id: resize, runbook: {name: child, params: {size: "${{ steps.gate.outputs.inputs.size }}"}}}
    - {id: note, set: {size: "steps.resize.outputs.said"}}
    - {id: done, if: "vars.size == '20'", exit: {message: "resized to ${{ vars.size }} after ${{ steps.ready.outputs.payload.reason }}"}}
    - {id: never, action: shell, with: {command: ["false"]}}
`
	results := runbooks.BuildSet([]runbooks.Source{{File: "parent.yaml", Data: []byte(parent)}, {File: "child.yaml", Data: []byte(child)}},
		runbooks.Options{Actions: activities.Catalog()})
	if results[0].Plan == nil {
		t.Fatal(results[0].Diagnostics)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	id := "parent-" + time.Now().Format("150405.000000")
	run, err := s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: worker.TaskQueue},
		workflows.WorkflowName, workflows.RunInput{Plan: results[0].Plan, Trigger: "api", TriggeredBy: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, s, id, "gate", workflows.StatusWaitingApproval)
	board := []string{"board"}
	vote := func(req workflows.VoteRequest) (workflows.VoteResult, string) {
		h, err := s.client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: workflows.UpdateApprove,
			Args: []any{req}, WaitForStage: client.WorkflowUpdateStageCompleted})
		var res workflows.VoteResult
		if err == nil {
			err = h.Get(ctx, &res)
		}
		var app *temporal.ApplicationError
		if errors.As(err, &app) {
			return res, app.Type()
		}
		if err != nil {
			t.Fatal(err)
		}
		return res, ""
	}
	if _, typ := vote(workflows.VoteRequest{Step: "gate", Decision: "approve", User: "ann", Groups: board, Inputs: map[string]any{"size": 20}}); typ != workflows.VoteSelf {
		t.Errorf("self-approval answered %q", typ)
	}
	if _, typ := vote(workflows.VoteRequest{Step: "gate", Decision: "approve", User: "eve", Inputs: map[string]any{"size": 20}}); typ != workflows.VoteNotApprover {
		t.Errorf("outsider answered %q", typ)
	}
	if _, typ := vote(workflows.VoteRequest{Step: "gate", Decision: "approve", User: "bob", Groups: board, Inputs: map[string]any{"size": 0}}); typ != workflows.VoteInvalid {
		t.Errorf("input below min answered %q", typ)
	}
	if res, typ := vote(workflows.VoteRequest{Step: "gate", Decision: "approve", User: "bob", Groups: board, Inputs: map[string]any{"size": 10}}); typ != "" || res.Decision != plan.DecisionPending {
		t.Errorf("first approval: %+v, %q", res, typ)
	}
	if _, typ := vote(workflows.VoteRequest{Step: "gate", Decision: "approve", User: "bob", Groups: board, Inputs: map[string]any{"size": 10}}); typ != workflows.VoteAlreadyVoted {
		t.Errorf("second vote answered %q", typ)
	}
	if res, typ := vote(workflows.VoteRequest{Step: "gate", Decision: "approve", User: "cid", Groups: board, Inputs: map[string]any{"size": 20}}); typ != "" || res.Decision != plan.DecisionApproved {
		t.Errorf("second approval: %+v, %q", res, typ)
	}
	waitStatus(t, s, id, "ready", workflows.StatusWaitingEvent)
	for _, e := range []workflows.Event{{Name: "go", Sender: "mallory", Payload: map[string]any{"reason": "forged"}}, {Name: "go", Sender: "ops", Payload: map[string]any{"reason": "dns ready"}}} {
		if err := s.client.SignalWorkflow(ctx, id, "", workflows.SignalEvent, e); err != nil {
			t.Fatal(err)
		}
	}
	var res workflows.RunResult
	if err := run.Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if res.ExitMessage != "resized to 20 after dns ready" {
		t.Errorf("exit message = %q", res.ExitMessage)
	}
	s.checkHistory(t, "parent", id)
}

// waitStatus polls the status query until step has status.
func waitStatus(t *testing.T, s *stack, id, step, status string) {
	t.Helper()
	for range 600 {
		if stepStatus(s.status(t, id), step) == status {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("step %s never reached %s", step, status)
}
