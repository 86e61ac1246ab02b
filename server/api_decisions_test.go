package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsrunbook/runbook/devserver/devtest"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/workflows"
)

// A shell step under onStepFailure: ask parks the run (waiting_decision);
// a skip with outputs of the wrong type is refused 422; once the fault is
// removed, a retry succeeds and the run ends; the audit has the decisions.
func TestDecisionParksRefusesAndRetries(t *testing.T) {
	c := temporalStack(t)
	eachStore(t, func(t *testing.T, st *store.Store) {
		a := newTrustAPI(t, c, st)
		ready := filepath.Join(t.TempDir(), "ready")
		a.register(subRunbookDoc("fragile", `    - id: check
      action: shell
      with: {command: [test, -f, "`+ready+`"]}
      onStepFailure: {action: ask, deciders: ["group:board"]}
    - {id: after, action: log, with: {message: done}}
`), 201)
		var run runView
		if got := a.call("POST", "/api/v1/runbooks/fragile/runs", a.ann, map[string]any{}, &run); got != 201 {
			t.Fatalf("start: %d", got)
		}
		var v runView
		waitFor(t, func() bool {
			a.call("GET", "/api/v1/runs/"+run.ID, a.viewer, nil, &v)
			return v.Status == workflows.RunWaitingDecision
		})
		if s := v.Steps[0]; s.Status != workflows.StatusWaitingDecision || s.ErrorType != "ShellExitError" {
			t.Fatalf("parked entry: %+v", s)
		}
		var list struct{ Approvals []pendingApproval }
		a.call("GET", "/api/v1/approvals", a.viewer, nil, &list)
		if len(list.Approvals) != 1 || list.Approvals[0].Kind != KindDecision || list.Approvals[0].Step != "check" {
			t.Errorf("listed: %+v", list.Approvals)
		}
		var p Problem
		path := "/api/v1/runs/" + run.ID + "/steps/check/decision"
		if got := a.call("POST", path, a.bob, map[string]any{"action": "skip", "outputs": map[string]any{"exitCode": "zero"}}, &p); got != 422 ||
			p.Error != "the decision does not fit step check: outputs.exitCode: expected an integer, got a string" {
			t.Errorf("wrong type: %d %+v", got, p)
		}
		if got := a.call("POST", path, a.operatorOnly, map[string]any{"action": "retry"}, &p); got != 403 || p.Error != "oscar is not a decider of step check" {
			t.Errorf("not a decider: %d %+v", got, p)
		}
		if got := a.call("POST", "/api/v1/runs/"+run.ID+"/steps/nope/decision", a.bob, map[string]any{"action": "retry"}, &p); got != 404 {
			t.Errorf("unknown step: %d %+v", got, p)
		}
		if err := os.WriteFile(ready, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		var entry workflows.StepState
		if got := a.call("POST", path, a.bob, map[string]any{"action": "retry", "comment": "created it"}, &entry); got != 200 ||
			len(entry.Decisions) != 1 || entry.Decisions[0].User != "bob" {
			t.Fatalf("retry: %d %+v", got, entry)
		}
		waitFor(t, func() bool {
			a.call("GET", "/api/v1/runs/"+run.ID, a.viewer, nil, &v)
			return v.Status == workflows.RunSucceeded
		})
		if s := v.Steps[0]; s.Status != workflows.StatusSucceeded || s.Attempts != 2 {
			t.Errorf("check after retry: %+v", s)
		}
		devtest.RecordHistory(t, filepath.Join("..", "workflows", "testdata", "histories", "TestDecisionParksRefusesAndRetries-decided"), devtest.HistoryJSON(t, c, run.ID), run.ID)
		if got := a.call("POST", path, a.bob, map[string]any{"action": "retry"}, &p); got != 409 || p.Error != "run "+run.ID+" has already ended: succeeded" {
			t.Errorf("after the end: %d %+v", got, p)
		}
		var outcomes []string
		for _, e := range a.audit(a.viewer, "action=step.decision&run="+run.ID).Entries {
			outcomes = append(outcomes, e.Actor+" "+e.Outcome)
		}
		if got := strings.Join(outcomes, ", "); got != "bob refused, bob ok, bob refused, oscar refused, bob refused" {
			t.Errorf("audit, newest first: %s", got)
		}
	})
}
