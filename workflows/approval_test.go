package workflows_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/workflows"
)

func TestApprovalNotifiesRemindsAndReadsApproversFromParams(t *testing.T) {
	var texts, links []string
	h := newHarness(t, map[string]action{
		"notify": func(in plan.ActionInput) (map[string]any, error) {
			if _, ok := in.Deferred["url"]; !ok || in.Inputs["url"] != nil {
				t.Errorf("the webhook URL reads a secret and must be rendered by the activity: %+v", in)
			}
			texts = append(texts, in.Inputs["text"].(string))
			links = append(links, in.Link)
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
	// Each carries the approval's page in the console.
	for _, l := range links {
		if l != links[0] || !strings.HasPrefix(l, "/runs/") || !strings.HasSuffix(l, "/approvals/resize") || strings.Count(l, "/") != 4 {
			t.Errorf("links = %v", links)
			break
		}
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
