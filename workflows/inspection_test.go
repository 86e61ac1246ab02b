package workflows_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/workflows"
)

// A rejected approval's comment is in the run's error, the step's error
// and onFailure's error.message.
func TestRejectionSaysWhoAndWhy(t *testing.T) {
	src := head + `  steps:
    - id: change_board
      approval: {approvers: [ann, bob]}
    - {id: after, action: log, with: {message: never}}
  onFailure:
    - {id: tell, action: log, with: {message: "${{ error.message }}"}}
`
	for _, tc := range []struct{ comment, want string }{
		{"freeze week", `approval "change_board" rejected by bob: freeze week`},
		{"", `approval "change_board" rejected by bob`},
		{"  not\n  now ", `approval "change_board" rejected by bob: not now`},
	} {
		var told []string
		h := newHarness(t, map[string]action{"log": func(in plan.ActionInput) (map[string]any, error) {
			told = append(told, in.Inputs["message"].(string))
			return map[string]any{}, nil
		}})
		var answer error
		h.vote(time.Minute, workflows.VoteRequest{Step: "change_board", Decision: "reject", User: "bob", Comment: tc.comment}, &answer)
		h.run(src, nil)
		if _, et := h.result(); et != workflows.ErrApprovalReject || answer != nil {
			t.Fatalf("error type %q, vote %v", et, answer)
		}
		var app *temporal.ApplicationError
		if err := h.env.GetWorkflowError(); !asApp(err, &app) || app.Message() != tc.want {
			t.Errorf("workflow error %v, want %q", err, tc.want)
		}
		st := h.status()
		if st.Error != tc.want || st.ErrorType != workflows.ErrApprovalReject || st.FailedStep != "change_board" {
			t.Errorf("status: %q %q %q, want %q", st.Error, st.ErrorType, st.FailedStep, tc.want)
		}
		if gate := stepOf(t, st, "change_board"); gate.Error != tc.want {
			t.Errorf("step error %q", gate.Error)
		}
		if len(told) != 1 || told[0] != tc.want {
			t.Errorf("onFailure told %q", told)
		}
		if after := stepOf(t, st, "after"); after.Status != workflows.StatusPending {
			t.Errorf("after: %s (the workflow keeps pending; the API shows not-reached)", after.Status)
		}
	}
}

// Each compensation says when it ran, and the timeline tells compensate
// steps, onFailure and finally apart: a client lists them in the order
// they ran.
func TestCompensationsAndFinallySayWhenTheyRan(t *testing.T) {
	h := newHarness(t, map[string]action{
		"shell": func(in plan.ActionInput) (map[string]any, error) {
			if fmt.Sprint(in.Inputs["command"]) == "[do three]" {
				return nil, temporal.NewNonRetryableApplicationError("exit code 2: boom", plan.ErrShellExit, nil)
			}
			return map[string]any{"exitCode": 0, "stdout": "out-" + in.StepID}, nil
		},
	})
	h.run(compensationSrc, nil)
	if _, et := h.result(); et != plan.ErrShellExit {
		t.Fatalf("error type = %q", et)
	}
	st := h.status()
	one, two, three := stepOf(t, st, "one"), stepOf(t, st, "two"), stepOf(t, st, "three")
	undo, settle := stepOf(t, st, "undo_two"), stepOf(t, st, "settle")
	tell, bye := stepOf(t, st, "tell"), stepOf(t, st, "bye")
	for _, e := range []workflows.StepState{one, two} {
		if e.Status != workflows.StatusCompensated || e.CompensationStartedAt == nil || e.CompensationEndedAt == nil {
			t.Fatalf("%s: %s, compensation %v to %v", e.ID, e.Status, e.CompensationStartedAt, e.CompensationEndedAt)
		}
	}
	if three.Status != workflows.StatusFailed || three.EndedAt == nil || two.CompensationStartedAt.Before(*three.EndedAt) {
		t.Errorf("two's undo started %v, before three failed at %v", two.CompensationStartedAt, three.EndedAt)
	}
	if got := two.CompensationEndedAt.Sub(*two.CompensationStartedAt); got != time.Minute {
		t.Errorf("two's undo took %s, want 1m (its settle sleep)", got)
	}
	if one.CompensationStartedAt.Before(*two.CompensationEndedAt) {
		t.Errorf("one's undo started %v, before two's ended %v (reverse order)", one.CompensationStartedAt, two.CompensationEndedAt)
	}
	for _, e := range []workflows.StepState{undo, settle} {
		if e.Phase != workflows.PhaseCompensate || e.Compensates != "two" || e.Status != workflows.StatusSucceeded || e.StartedAt == nil {
			t.Errorf("%s: phase %q compensates %q status %s", e.ID, e.Phase, e.Compensates, e.Status)
		}
	}
	if tell.Phase != workflows.PhaseOnFailure || bye.Phase != workflows.PhaseFinally || one.Phase != "" {
		t.Errorf("phases: tell %q, bye %q, one %q", tell.Phase, bye.Phase, one.Phase)
	}
	if tell.StartedAt == nil || bye.StartedAt == nil || tell.StartedAt.Before(*one.CompensationEndedAt) || bye.StartedAt.Before(*tell.EndedAt) {
		t.Errorf("onFailure at %v, finally at %v, after the undos ended %v", tell.StartedAt, bye.StartedAt, one.CompensationEndedAt)
	}
}

// A step whose if is false says when it was skipped.
func TestSkippedStepSaysWhen(t *testing.T) {
	h := newHarness(t, nil)
	h.run(head+`  steps:
    - {id: wait, sleep: 5m}
    - {id: maybe, if: "false", action: log, with: {message: no}}
`, nil)
	if _, et := h.result(); et != "" {
		t.Fatalf("failed: %s", et)
	}
	st := h.status()
	wait, maybe := stepOf(t, st, "wait"), stepOf(t, st, "maybe")
	if maybe.Status != workflows.StatusSkipped || maybe.StartedAt != nil || maybe.EndedAt == nil || !maybe.EndedAt.Equal(*wait.EndedAt) {
		t.Errorf("maybe: %s, started %v, ended %v (wait ended %v)", maybe.Status, maybe.StartedAt, maybe.EndedAt, wait.EndedAt)
	}
}

func asApp(err error, app **temporal.ApplicationError) bool { return errors.As(err, app) }
