package workflows_test

import (
	"errors"
	"slices"
	"strings"

	"github.com/opsrunbook/runbook/plan"

	"go.temporal.io/sdk/temporal"

	"testing"
	"time"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/runbooks"
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

// A failure counts against maxErrors when the item fails, not when its
// onError finishes: once the budget is spent no item starts, even while
// onError still runs. a fails at 1s (onError until 6s); c takes a's slot
// at 6s and fails at 7s, the second failure; b ends at 8s, and d must not
// take its slot.
func TestForEachCountsAFailureWhenTheItemFails(t *testing.T) {
	h := newHarness(t, map[string]action{"shell": func(in plan.ActionInput) (map[string]any, error) {
		if host := in.Inputs["command"].([]any)[1]; host == "a" || host == "c" {
			return nil, temporal.NewNonRetryableApplicationError("down", plan.ErrShellExit, nil)
		}
		return map[string]any{"exitCode": 0}, nil
	}})
	h.run(head+`  steps:
    - id: roll
      forEach: "['a', 'b', 'c', 'd', 'e', 'f']"
      as: host
      maxConcurrency: 2
      maxErrors: 1
      steps:
        - {id: pause, sleep: "${{ host == 'b' ? '8s' : '1s' }}"}
        - {id: patch, action: shell, with: {command: [patch, "${{ host }}"]}}
      onError:
        - {id: cool, sleep: 5s}
`, nil)
	if _, et := h.result(); et != workflows.ErrForEachBudget {
		t.Fatalf("error type = %q", et)
	}
	got := h.called("shell")
	slices.Sort(got)
	if !slices.Equal(got, []string{"patch", "patch", "patch"}) {
		t.Errorf("patched %v: only a, b and c may start", got)
	}
	s := h.status()
	var started []int
	for _, st := range s.Steps {
		if st.ID == "pause" && st.Item != nil {
			started = append(started, *st.Item)
		}
	}
	if !slices.Equal(started, []int{0, 1, 2}) {
		t.Errorf("items started: %v, want [0 1 2]", started)
	}
	if s.Error != "2 of 6 items failed, more than maxErrors (1); first: patch: down" {
		t.Errorf("error = %q", s.Error)
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

// Every secret the plan reads (in with, compensate.with, a notification)
// is checked on the worker before the first step:
// a missing one fails the run there, naming it.
func TestMissingSecretsFailTheRunBeforeItsFirstStep(t *testing.T) {
	src := head + `  secrets: [API_KEY, HOOK, PG_DSN, TOKEN, UNUSED]
  steps:
    - id: restart
      action: shell
      with: {command: [restart], env: {T: "${{ secrets.TOKEN }}"}}
      compensate: {action: shell, with: {command: [undo], env: {K: "${{ secrets.API_KEY }}"}}}
    - {id: gate, approval: {approvers: [carol], notify: {url: "${{ secrets.HOOK }}", text: hi}}}
    - {id: migrate, action: shell, with: {command: [migrate], env: {DSN: "${{ secrets.PG_DSN }}"}}}
`
	h := newHarness(t, nil)
	h.setSecret("TOKEN", "")
	h.setSecret("HOOK", "short")
	h.run(src, nil)
	if _, et := h.result(); et != plan.ErrSecret {
		t.Fatalf("error type = %q", et)
	}
	s := h.status()
	want := "secrets the run reads cannot be resolved on the worker: missing API_KEY, PG_DSN, TOKEN; too short to be redacted: HOOK (checked when the run starts)"
	if s.Error != want || s.FailedStep != "" {
		t.Errorf("error %q at %q, want %q", s.Error, s.FailedStep, want)
	}
	if got := h.called(""); len(got) != 0 {
		t.Errorf("steps ran: %v", got)
	}
	for _, st := range s.Steps {
		if st.Status != workflows.StatusPending {
			t.Errorf("%s: %s, want pending", st.ID, st.Status)
		}
	}

	// With every secret there, the run goes on.
	h = newHarness(t, nil)
	for _, name := range []string{"API_KEY", "PG_DSN"} {
		h.setSecret(name, "value-of-"+name)
	}
	var answer error
	h.vote(time.Minute, workflows.VoteRequest{Step: "gate", Decision: "approve", User: "carol"}, &answer)
	h.run(src, nil)
	if _, et := h.result(); et != "" || answer != nil {
		t.Fatalf("result %q, vote %v", et, answer)
	}
}

// A sub-runbook's secrets are checked when its parent starts.
func TestSubRunbookSecretsAreCheckedAtTheParentsStart(t *testing.T) {
	child := strings.Replace(head, "name: t}", "name: migrate}", 1) + `  secrets: [PG_DSN]
  steps:
    - {id: run, action: shell, with: {command: [migrate], env: {DSN: "${{ secrets.PG_DSN }}"}}}
`
	parent := head + `  steps:
    - {id: restart, action: log, with: {message: restart}}
    - {id: sub, runbook: {name: migrate}}
`
	results := runbooks.BuildSet([]runbooks.Source{{File: "p.yaml", Data: []byte(parent)}, {File: "c.yaml", Data: []byte(child)}},
		runbooks.Options{Actions: activities.Catalog()})
	if results[0].Plan == nil {
		t.Fatal(results[0].Diagnostics)
	}
	h := newHarness(t, nil)
	h.env.ExecuteWorkflow(workflows.WorkflowName, workflows.RunInput{Plan: results[0].Plan, Trigger: "api", TriggeredBy: "ann"})
	if _, et := h.result(); et != plan.ErrSecret {
		t.Fatalf("error type = %q", et)
	}
	if s := h.status(); s.Error != "secrets the run reads cannot be resolved on the worker: missing PG_DSN (checked when the run starts)" || len(h.called("")) != 0 {
		t.Errorf("error %q, steps ran: %v", s.Error, h.called(""))
	}
}
