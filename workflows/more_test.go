package workflows_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/plan"

	"go.temporal.io/sdk/temporal"

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

func TestApprovalNotifiesRemindsAndReadsApproversFromParams(t *testing.T) {
	var texts []string
	h := newHarness(t, map[string]action{
		"notify": func(in plan.ActionInput) (map[string]any, error) {
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
        inputs: [{name: size_gb, type: int, min: 10, required: true}]
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

// An approvers expression over params and run that gives an empty list
// fails the run before its first step; one the run may never reach (under
// an if that is not true at start, inside a forEach) fails when reached.
func TestEmptyApproversFailAtRunStart(t *testing.T) {
	const owners = `  params:
    - {name: owners, type: list, items: string, default: []}
    - {name: gated, type: bool, default: true}
`
	for _, tc := range []struct {
		name, steps string
		wantCalls   []string
		wantStep    string
		wantErr     string
	}{{
		name: "first step",
		steps: `    - {id: gate, approval: {approvers: "${{ params.owners }}"}}
`,
		wantStep: "gate", wantErr: "the approval has no approvers: params.owners gave an empty list (checked when the run starts)",
	}, {
		name: "after a step",
		steps: `    - {id: restart, action: log, with: {message: restart}}
    - {id: gate, approval: {approvers: "${{ params.owners.filter(o, o != '') }}"}}
`,
		wantStep: "gate", wantErr: "the approval has no approvers: params.owners.filter(o, o != '') gave an empty list (checked when the run starts)",
	}, {
		name: "in finally",
		steps: `    - {id: restart, action: log, with: {message: restart}}
  finally:
    - {id: sign, approval: {approvers: "${{ params.owners }}"}}
`,
		wantStep: "sign", wantErr: "the approval has no approvers: params.owners gave an empty list (checked when the run starts)",
	}, {
		name: "under an if true at start",
		steps: `    - id: grp
      if: params.gated
      steps:
        - {id: restart, action: log, with: {message: restart}}
        - {id: gate, approval: {approvers: "${{ params.owners }}"}}
`,
		wantStep: "gate", wantErr: "the approval has no approvers: params.owners gave an empty list (checked when the run starts)",
	}, {
		name: "under an if false at start",
		steps: `    - {id: restart, action: log, with: {message: restart}}
    - {id: gate, if: "!params.gated", approval: {approvers: "${{ params.owners }}"}}
`,
		wantCalls: []string{"restart"},
	}, {
		name: "inside a forEach",
		steps: `    - {id: restart, action: log, with: {message: restart}}
    - id: each
      forEach: "['a']"
      as: host
      steps:
        - {id: gate, approval: {approvers: "${{ params.owners }}"}}
`,
		wantCalls: []string{"restart"}, wantStep: "each", wantErr: "1 of 1 items failed, more than maxErrors (0); first: gate: the approval has no approvers",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.run(head+owners+"  steps:\n"+strings.TrimPrefix(tc.steps, "  steps:\n"), nil)
			_, et := h.result()
			s := h.status()
			wantType := "NoApprovers"
			if strings.HasPrefix(tc.wantErr, "1 of 1") {
				wantType = workflows.ErrForEachBudget
			}
			if tc.wantErr == "" {
				wantType = ""
			}
			if et != wantType || s.FailedStep != tc.wantStep || s.Error != tc.wantErr {
				t.Errorf("failed %q at %q: %q; want %q at %q: %q", et, s.FailedStep, s.Error, wantType, tc.wantStep, tc.wantErr)
			}
			if got := h.called(""); !reflect.DeepEqual(got, tc.wantCalls) {
				t.Errorf("steps that ran: %v, want %v", got, tc.wantCalls)
			}
		})
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
