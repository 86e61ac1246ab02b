package workflows_test

import (
	"strings"

	"testing"
	"time"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/runbooks"
	"github.com/opsrunbook/runbook/workflows"
)

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
