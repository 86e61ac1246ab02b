package workflows_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/workflows"
)

// decide sends a decision after delay and records how it was answered.
func (h *harness) decide(delay time.Duration, req workflows.DecisionRequest, answer *error) {
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(workflows.UpdateDecide, fmt.Sprintf("%s-%s-%s", req.User, req.Step, delay), &testsuite.TestUpdateCallback{
			OnAccept:   func() {},
			OnReject:   func(err error) { *answer = err },
			OnComplete: func(_ any, err error) { *answer = err },
		}, req)
	}, delay)
}

// at queries the status after delay.
func (h *harness) at(delay time.Duration, fn func(*workflows.Status)) {
	h.env.RegisterDelayedCallback(func() { fn(h.status()) }, delay)
}

// shellFails is a shell action that fails while *broken.
func shellFails(broken *bool, scripts *[]string) action {
	return func(in plan.ActionInput) (map[string]any, error) {
		*scripts = append(*scripts, fmt.Sprint(in.Inputs["script"]))
		if *broken {
			return nil, temporal.NewNonRetryableApplicationError("exit status 1", "ShellExitError", nil)
		}
		return map[string]any{"exitCode": 0, "stdout": "ok", "stderr": ""}, nil
	}
}

const askRunbook = `  steps:
    - id: check
      action: shell
      with: {script: "test -f /tmp/ready"}
      onStepFailure: {action: ask, deciders: ["group:sre", "carol"], message: "check failed: fix /tmp/ready"}
    - {id: after, action: log, with: {message: "${{ steps.check.outputs.stdout }}/${{ string(steps.check.outputs.exitCode) }}"}}
`

func TestFailedStepParksAndRetrySucceeds(t *testing.T) {
	broken, scripts := true, []string{}
	h := newHarness(t, map[string]action{"shell": shellFails(&broken, &scripts)})
	var parked *workflows.Status
	h.at(time.Minute, func(s *workflows.Status) { parked = s })
	var notDecider, wrongInput, answer error
	h.decide(2*time.Minute, workflows.DecisionRequest{Step: "check", Action: plan.DecideRetry, User: "bob", Groups: []string{"dev"}}, &notDecider)
	h.decide(3*time.Minute, workflows.DecisionRequest{Step: "after", Action: plan.DecideRetry, User: "carol"}, &wrongInput)
	h.env.RegisterDelayedCallback(func() { broken = false }, 4*time.Minute)
	h.decide(5*time.Minute, workflows.DecisionRequest{Step: "check", Action: plan.DecideRetry, User: "alice", Groups: []string{"sre"},
		Comment: "made the file", Inputs: map[string]any{"script": "test -f /tmp/ready || true"}}, &answer)
	h.run(head+askRunbook, nil)
	if _, et := h.result(); et != "" || answer != nil {
		t.Fatalf("result %q, decision %v", et, answer)
	}
	if parked == nil || parked.Status != workflows.RunWaitingDecision {
		t.Fatalf("run status while parked = %+v, want waiting_decision", parked)
	}
	p := stepOf(t, parked, "check")
	if p.Status != workflows.StatusWaitingDecision || p.Error != "exit status 1" || p.ErrorType != "ShellExitError" ||
		!slices.Equal(p.Deciders, []string{"group:sre", "carol"}) || p.Message != "check failed: fix /tmp/ready" {
		t.Errorf("parked entry = %+v", p)
	}
	if got := stepOf(t, parked, "after").Status; got != workflows.StatusPending {
		t.Errorf("the next step is %s while check waits, want pending", got)
	}
	if errType(notDecider) != workflows.DecisionNotDecider || errType(wrongInput) != workflows.DecisionNotWaiting {
		t.Errorf("refusals: not a decider %v, not waiting %v", notDecider, wrongInput)
	}
	s := h.status()
	c := stepOf(t, s, "check")
	if s.Status != workflows.RunSucceeded || c.Status != workflows.StatusSucceeded || c.Attempts != 2 || c.Error != "" || len(c.Decisions) != 1 {
		t.Fatalf("after retry: run %s, check %+v", s.Status, c)
	}
	if d := c.Decisions[0]; d.User != "alice" || d.Action != plan.DecideRetry || d.Comment != "made the file" {
		t.Errorf("decision = %+v", d)
	}
	if want := []string{"test -f /tmp/ready", "test -f /tmp/ready || true"}; !slices.Equal(scripts, want) {
		t.Errorf("scripts run = %q, want %q (the retry's inputs in place of with)", scripts, want)
	}
}

func TestSkipWithOutputsContinuesAndLaterStepsReadThem(t *testing.T) {
	broken, scripts := true, []string{}
	h := newHarness(t, map[string]action{"shell": shellFails(&broken, &scripts)})
	var wrongType, answer error
	h.decide(time.Minute, workflows.DecisionRequest{Step: "check", Action: plan.DecideSkip, User: "carol",
		Outputs: map[string]any{"stdout": "by hand", "exitCode": "zero"}}, &wrongType)
	h.decide(2*time.Minute, workflows.DecisionRequest{Step: "check", Action: plan.DecideSkip, User: "carol", Comment: "fixed by hand",
		Outputs: map[string]any{"stdout": "by hand", "exitCode": 0}}, &answer)
	h.run(head+askRunbook, nil)
	if _, et := h.result(); et != "" || answer != nil {
		t.Fatalf("result %q, decision %v", et, answer)
	}
	var app *temporal.ApplicationError
	if !errors.As(wrongType, &app) || app.Type() != workflows.DecisionInvalid ||
		app.Message() != "the decision does not fit step check: outputs.exitCode: expected an integer, got a string" {
		t.Fatalf("wrong type answered %v", wrongType)
	}
	s := h.status()
	c := stepOf(t, s, "check")
	if c.Status != workflows.StatusSkipped || !reflect.DeepEqual(c.Outputs, map[string]any{"stdout": "by hand", "exitCode": float64(0)}) ||
		len(c.Decisions) != 1 || c.Decisions[0].Action != plan.DecideSkip {
		t.Errorf("skipped entry = %+v", c)
	}
	last := h.calls[len(h.calls)-1]
	if last.in.StepID != "after" || last.in.Inputs["message"] != "by hand/0" {
		t.Errorf("after ran with %+v, want the skipped step's outputs", last.in)
	}
}

func TestFailDecisionFailsAsTheFailureWould(t *testing.T) {
	broken, scripts := true, []string{}
	h := newHarness(t, map[string]action{"shell": shellFails(&broken, &scripts)})
	var answer error
	h.decide(time.Minute, workflows.DecisionRequest{Step: "check", Action: plan.DecideFail, User: "carol", Comment: "give up"}, &answer)
	h.run(head+`  onStepFailure: ask
  steps:
    - {id: deploy, action: log, with: {message: deploy}, compensate: {action: log, with: {message: undeploy}}}
    - {id: check, action: shell, with: {script: "false"}}
  onFailure:
    - {id: report, action: log, with: {message: "${{ error.type }}: ${{ error.message }}"}}
  finally:
    - {id: cleanup, action: log, with: {message: cleanup}}
`, nil)
	if _, et := h.result(); et != "ShellExitError" || answer != nil {
		t.Fatalf("result %q, decision %v", et, answer)
	}
	var msgs []string
	for _, c := range h.calls {
		if c.action == "log" {
			msgs = append(msgs, fmt.Sprint(c.in.Inputs["message"]))
		}
	}
	if want := []string{"deploy", "undeploy", "ShellExitError: exit status 1", "cleanup"}; !slices.Equal(msgs, want) {
		t.Errorf("log messages = %q, want %q", msgs, want)
	}
	s := h.status()
	c := stepOf(t, s, "check")
	if s.Status != workflows.RunFailed || s.FailedStep != "check" || c.Status != workflows.StatusFailed || len(c.Decisions) != 1 {
		t.Errorf("run %s failed at %q, check %+v", s.Status, s.FailedStep, c)
	}
}

func TestDecisionTimeoutFallsBackToFail(t *testing.T) {
	h := newHarness(t, nil)
	var parked *workflows.Status
	h.at(3*time.Hour, func(s *workflows.Status) { parked = s })
	h.run(head+`  steps:
    - id: gate
      assert: {that: "1 == 2", message: "numbers disagree"}
      onStepFailure: {action: ask, timeout: 4h}
    - {id: after, action: log, with: {message: never}}
`, nil)
	if _, et := h.result(); et != workflows.ErrAssertion {
		t.Fatalf("result %q, want %s", et, workflows.ErrAssertion)
	}
	if parked == nil || parked.Status != workflows.RunWaitingDecision {
		t.Fatalf("at 3h the run is %+v, want waiting_decision", parked)
	}
	s := h.status()
	g := stepOf(t, s, "gate")
	if g.Status != workflows.StatusFailed || g.Error != "numbers disagree" || len(g.Decisions) != 1 ||
		g.Decisions[0].User != workflows.DecisionTimeoutUser || g.Decisions[0].Action != plan.DecideFail || g.Decisions[0].Comment != "no decision within 4h0m0s" {
		t.Errorf("gate = %+v", g)
	}
	if len(h.calls) != 0 {
		t.Errorf("calls %v after a failed gate", h.called(""))
	}
}

func TestContinueOnErrorWinsOverAsk(t *testing.T) {
	broken, scripts := true, []string{}
	h := newHarness(t, map[string]action{"shell": shellFails(&broken, &scripts)})
	src := head + `  onStepFailure: ask
  steps:
    - {id: check, action: shell, with: {script: "false"}, continueOnError: true}
    - {id: after, action: log, with: {message: "${{ steps.check.status }}"}}
`
	if p := compile(t, src); p.Steps[0].OnStepFailure != nil || p.Steps[1].OnStepFailure == nil {
		t.Fatalf("policies compiled: %+v, %+v", p.Steps[0].OnStepFailure, p.Steps[1].OnStepFailure)
	}
	h.run(src, nil)
	if _, et := h.result(); et != "" {
		t.Fatalf("result %q", et)
	}
	if got := h.calls[len(h.calls)-1].in.Inputs["message"]; got != "failed" {
		t.Errorf("after saw check %v, want failed (swallowed, nobody asked)", got)
	}
}

// A forEach item's body step parks alone; the others go on, and the
// decision names the item.
func TestForEachItemParks(t *testing.T) {
	h := newHarness(t, map[string]action{"shell": func(in plan.ActionInput) (map[string]any, error) {
		if in.Item != nil && *in.Item == 1 {
			return nil, temporal.NewNonRetryableApplicationError("host b down", "ShellExitError", nil)
		}
		return map[string]any{"exitCode": 0, "stdout": "up"}, nil
	}})
	var parked *workflows.Status
	h.at(time.Minute, func(s *workflows.Status) { parked = s })
	var noItem, answer error
	h.decide(2*time.Minute, workflows.DecisionRequest{Step: "probe", Action: plan.DecideSkip, User: "carol"}, &noItem)
	one := 1
	h.decide(3*time.Minute, workflows.DecisionRequest{Step: "probe", Item: &one, Action: plan.DecideSkip, User: "carol", Outputs: map[string]any{"stdout": "skipped"}}, &answer)
	h.run(head+`  steps:
    - id: hosts
      forEach: '["a", "b", "c"]'
      maxConcurrency: 3
      steps:
        - {id: probe, action: shell, with: {script: "true"}, onStepFailure: ask}
`, nil)
	if _, et := h.result(); et != "" || answer != nil {
		t.Fatalf("result %q, decision %v", et, answer)
	}
	if errType(noItem) != workflows.DecisionNotWaiting {
		t.Errorf("a decision without the item answered %v", noItem)
	}
	var statuses []string
	for _, st := range parked.Steps {
		if st.ID == "probe" {
			statuses = append(statuses, st.Status)
		}
	}
	if want := []string{"succeeded", "waiting-decision", "succeeded"}; parked.Status != workflows.RunWaitingDecision || !slices.Equal(statuses, want) {
		t.Errorf("parked: run %s, items %v, want %v", parked.Status, statuses, want)
	}
}

// A step that starts waiting for a decision notifies, reminds every
// remindEvery while it waits, and stops once decided; the URL reads a
// secret, so the activity renders it.
func TestDecisionNotifiesAndReminds(t *testing.T) {
	broken, scripts := true, []string{}
	var texts, links []string
	h := newHarness(t, map[string]action{
		"shell": shellFails(&broken, &scripts),
		"notify": func(in plan.ActionInput) (map[string]any, error) {
			if _, ok := in.Deferred["url"]; !ok || in.Inputs["url"] != nil {
				t.Errorf("the webhook URL reads a secret and must be rendered by the activity: %+v", in)
			}
			texts = append(texts, in.Inputs["text"].(string))
			links = append(links, in.Link)
			return map[string]any{"status": 200}, nil
		},
	})
	h.env.RegisterDelayedCallback(func() { broken = false }, 140*time.Minute)
	var answer error
	h.decide(150*time.Minute, workflows.DecisionRequest{Step: "check", Action: plan.DecideRetry, User: "carol"}, &answer)
	h.run(head+`  secrets: [HOOK]
  params: [{name: host, type: string, default: db1}]
  steps:
    - id: check
      action: shell
      with: {script: "test -f /tmp/ready"}
      onStepFailure:
        action: ask
        notify: {url: "${{ secrets.HOOK }}", text: "check on ${{ params.host }} failed: decide"}
        remindEvery: 1h
    - {id: after, action: log, with: {message: done}}
`, nil)
	if _, et := h.result(); et != "" || answer != nil {
		t.Fatalf("result %q, decision %v", et, answer)
	}
	want := []string{"check on db1 failed: decide", "check on db1 failed: decide", "check on db1 failed: decide"}
	if !reflect.DeepEqual(texts, want) {
		t.Errorf("notifications = %v (one when it parks, reminders at 1h and 2h, none after the decision)", texts)
	}
	for _, l := range links { // the run's page, where its decisions are taken
		if l != links[0] || !strings.HasPrefix(l, "/runs/") || strings.Count(l, "/") != 2 {
			t.Errorf("links = %v", links)
			break
		}
	}
}
