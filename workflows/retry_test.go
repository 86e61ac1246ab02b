package workflows_test

import (
	"errors"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/workflows"
)

func TestRetryPolicyFromThePlan(t *testing.T) {
	tries := map[string]int{}
	h := newHarness(t, map[string]action{
		"shell": func(in plan.ActionInput) (map[string]any, error) {
			tries[in.StepID]++
			switch {
			case in.StepID == "flaky" && tries["flaky"] < 3:
				return nil, temporal.NewApplicationError("connection reset", "Transient")
			case in.StepID == "fatal":
				return nil, temporal.NewApplicationError("exit code 2", plan.ErrShellExit)
			}
			return map[string]any{"exitCode": 0}, nil
		},
	})
	h.run(head+`  steps:
    - {id: flaky, action: shell, with: {command: [x]}, retry: {maxAttempts: 5, initialInterval: 1s}}
    - {id: fatal, action: shell, with: {command: [y]}, retry: {maxAttempts: 5, nonRetryable: [ShellExitError]}}
`, nil)
	if _, et := h.result(); et != plan.ErrShellExit {
		t.Fatalf("error type = %q", et)
	}
	if tries["flaky"] != 3 || tries["fatal"] != 1 {
		t.Errorf("tries = %v: flaky is retried until it succeeds, fatal not at all", tries)
	}
	if st := stepOf(t, h.status(), "flaky"); st.Attempts != 3 {
		t.Errorf("flaky attempts = %d", st.Attempts)
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
		h := newHarness(t, map[string]action{"shell": func(plan.ActionInput) (map[string]any, error) {
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

// The timeline counts every attempt of a step, whether the last one
// succeeded or failed.
func TestAttemptsCountFailedAttempts(t *testing.T) {
	tries := map[string]int{}
	h := newHarness(t, map[string]action{"shell": func(in plan.ActionInput) (map[string]any, error) {
		tries[in.StepID]++
		switch {
		case in.StepID == "third" && tries["third"] < 3, in.StepID == "broken":
			return nil, temporal.NewApplicationError("connection reset", "Transient")
		case in.StepID == "fatal" && tries["fatal"] == 2:
			return nil, temporal.NewNonRetryableApplicationError("exit code 2", plan.ErrShellExit, nil, map[string]any{"exitCode": 2})
		case in.StepID == "fatal":
			return nil, temporal.NewApplicationError("connection reset", "Transient")
		case in.StepID == "plain": // no attempt detail: retries ran out, so the policy's maximum
			return nil, errors.New("boom")
		}
		return map[string]any{"exitCode": 0}, nil
	}})
	h.run(head+`  steps:
    - {id: third, action: shell, with: {command: [x]}, retry: {maxAttempts: 5, initialInterval: 1s}}
    - {id: fatal, action: shell, with: {command: [y]}, retry: {maxAttempts: 5, initialInterval: 1s}, continueOnError: true}
    - {id: plain, action: shell, with: {command: [w]}, retry: {maxAttempts: 2, initialInterval: 1s}, continueOnError: true}
    - {id: broken, action: shell, with: {command: [z]}, retry: {maxAttempts: 3, initialInterval: 1s}}
`, nil)
	if _, et := h.result(); et != "Transient" {
		t.Fatalf("error type = %q", et)
	}
	s := h.status()
	for id, want := range map[string]int{"third": 3, "fatal": 2, "plain": 2, "broken": 3} {
		if st := stepOf(t, s, id); st.Attempts != want || st.Attempts != tries[id] {
			t.Errorf("%s: attempts %d, want %d (%d calls)", id, st.Attempts, want, tries[id])
		}
	}
	if st := stepOf(t, s, "fatal"); st.Error != "exit code 2" || st.ErrorType != plan.ErrShellExit {
		t.Errorf("fatal: error %q, type %q: the attempt must not change the action's error", st.Error, st.ErrorType)
	}
}
