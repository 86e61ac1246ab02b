package workflows_test

import (
	"errors"

	"go.temporal.io/sdk/temporal"

	"testing"
	"time"

	"github.com/opsrunbook/runbook/workflows"
)

// A vote on a step that is not waiting names the steps that are.
func TestVoteNotWaitingNamesTheWaitingSteps(t *testing.T) {
	h := newHarness(t, nil)
	var early, wrong, late error
	h.vote(time.Second, workflows.VoteRequest{Step: "board", Decision: "approve", User: "carol"}, &early)
	h.vote(2*time.Minute, workflows.VoteRequest{Step: "deploy", Decision: "approve", User: "carol"}, &wrong)
	h.vote(3*time.Minute, workflows.VoteRequest{Step: "board", Decision: "approve", User: "carol"}, &late)
	h.run(head+`  steps:
    - {id: wait, sleep: 1m}
    - {id: board, approval: {approvers: [carol]}}
    - {id: deploy, action: log, with: {message: done}}
`, nil)
	if _, et := h.result(); et != "" || late != nil {
		t.Fatalf("result %q, last vote %v", et, late)
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{early, "step board is not waiting for approval; no step is waiting"},
		{wrong, "step deploy is not waiting for approval; waiting: board"},
	} {
		if errType(tc.err) != workflows.VoteNotWaiting || appMessage(tc.err) != tc.want {
			t.Errorf("vote answered %v, want %s: %q", tc.err, workflows.VoteNotWaiting, tc.want)
		}
	}
}

// appMessage is an ApplicationError's message without the SDK's wrapping.
func appMessage(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Message()
	}
	if err == nil {
		return ""
	}
	return err.Error()
}
