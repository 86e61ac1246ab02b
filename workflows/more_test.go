package workflows_test

import (
	"reflect"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/workflows"
)

func TestRetryPolicyFromThePlan(t *testing.T) {
	tries := map[string]int{}
	h := newHarness(t, map[string]action{
		"shell": func(in activities.Input) (map[string]any, error) {
			tries[in.StepID]++
			switch {
			case in.StepID == "flaky" && tries["flaky"] < 3:
				return nil, temporal.NewApplicationError("connection reset", "Transient")
			case in.StepID == "fatal":
				return nil, temporal.NewApplicationError("exit code 2", activities.ErrShellExit)
			}
			return map[string]any{"exitCode": 0}, nil
		},
	})
	h.run(head+`  steps:
    - {id: flaky, action: shell, with: {command: [x]}, retry: {maxAttempts: 5, initialInterval: 1s}}
    - {id: fatal, action: shell, with: {command: [y]}, retry: {maxAttempts: 5, nonRetryable: [ShellExitError]}}
`, nil)
	if _, et := h.result(); et != activities.ErrShellExit {
		t.Fatalf("error type = %q", et)
	}
	if tries["flaky"] != 3 || tries["fatal"] != 1 {
		t.Errorf("tries = %v: flaky is retried until it succeeds, fatal not at all", tries)
	}
	if st := stepOf(t, h.status(), "flaky"); st.Attempts != 3 {
		t.Errorf("flaky attempts = %d", st.Attempts)
	}
}

func TestApprovalNotifiesRemindsAndReadsApproversFromParams(t *testing.T) {
	var texts []string
	h := newHarness(t, map[string]action{
		"notify": func(in activities.Input) (map[string]any, error) {
			if _, ok := in.Deferred["url"]; !ok || in.Inputs["url"] != nil {
				t.Errorf("the webhook URL reads a secret and must be rendered by the activity: %+v", in)
			}
			texts = append(texts, in.Inputs["text"].(string))
			return map[string]any{"status": 200}, nil
		},
	})
	var answer error
	h.vote(150*time.Minute, workflows.VoteRequest{Step: "resize", Decision: "approve", User: "dba1", Groups: []string{"dba"}, Inputs: map[string]any{"size_gb": 500}}, &answer)
	h.run(head+`  params: [{name: owners, type: list, items: string, default: ["group:dba"]}]
  secrets: [HOOK]
  steps:
    - id: resize
      approval:
        approvers: "${{ params.owners }}"
        inputs: [{name: size_gb, type: int, min: 10}]
        notify: {url: "${{ secrets.HOOK }}", text: "resize waits for ${{ params.owners.join(', ') }}"}
        remindEvery: 1h
    - {id: apply, action: log, with: {message: "${{ string(steps.resize.outputs.inputs.size_gb) }}GB at ${{ string(now() - run.startedAt) }}"}}
`, nil)
	if _, et := h.result(); et != "" || answer != nil {
		t.Fatalf("result %q, vote %v", et, answer)
	}
	if want := []string{"resize waits for group:dba", "resize waits for group:dba", "resize waits for group:dba"}; !reflect.DeepEqual(texts, want) {
		t.Errorf("notifications = %v (one at start, reminders at 1h and 2h)", texts)
	}
	msg := h.calls[len(h.calls)-1].in.Inputs["message"].(string)
	if msg != "500GB at 9000s" {
		t.Errorf("message = %q: now() must be the workflow's clock", msg)
	}
}

func TestEmptyApproversFailAtRunStart(t *testing.T) {
	h := newHarness(t, nil)
	h.run(head+`  params: [{name: owners, type: list, items: string, default: []}]
  steps:
    - {id: gate, approval: {approvers: "${{ params.owners }}"}}
`, nil)
	if _, et := h.result(); et != "NoApprovers" {
		t.Fatalf("error type = %q", et)
	}
}

// A worker lost mid-action (a heartbeat timeout) runs the action again,
// though the step has no retry policy, at most MaxWorkerLosses times.
func TestActionRunsAgainWhenItsWorkerIsLost(t *testing.T) {
	for _, tc := range []struct {
		losses    int
		wantCalls int
		wantErr   string
	}{
		{losses: 2, wantCalls: 3},
		{losses: 99, wantCalls: 1 + workflows.MaxWorkerLosses, wantErr: "Timeout"},
	} {
		n := 0
		h := newHarness(t, map[string]action{"shell": func(activities.Input) (map[string]any, error) {
			if n++; n <= tc.losses {
				return nil, temporal.NewHeartbeatTimeoutError()
			}
			return map[string]any{"exitCode": 0, "stdout": "", "stderr": ""}, nil
		}})
		h.run(head+"  steps:\n    - {id: slow, action: shell, with: {command: [sleep, '60']}}\n", nil)
		_, errType := h.result()
		if got := len(h.called("shell")); got != tc.wantCalls || errType != tc.wantErr {
			t.Errorf("%d losses: %d calls, error %q; want %d, %q", tc.losses, got, errType, tc.wantCalls, tc.wantErr)
		}
		if st := stepOf(t, h.status(), "slow"); st.Attempts != tc.wantCalls {
			t.Errorf("%d losses: attempts %d", tc.losses, st.Attempts)
		}
	}
}
