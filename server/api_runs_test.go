package server

import (
	"testing"

	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/workflows"
)

// TestRunAndApprovalEdges: a cancel of an ended run changes nothing, and a
// self-approvable step is listed as the starter's.
func TestRunAndApprovalEdges(t *testing.T) {
	c := temporalStack(t)
	eachStore(t, func(t *testing.T, st *store.Store) {
		a := newTrustAPI(t, c, st)
		t.Run("cancelling an ended run", func(t *testing.T) { cancelEnded(t, a) })
		t.Run("a self-approvable step is the starter's", func(t *testing.T) { selfApprovalListed(t, a) })
	})
}

func cancelEnded(t *testing.T, a *trustAPI) {
	src := `apiVersion: runbook/v1
kind: Runbook
metadata: {name: quick}
spec:
  steps:
    - {id: hi, action: log, with: {message: hi}}
`
	a.register(src, 201)
	var run runView
	a.call("POST", "/api/v1/runbooks/quick/runs", a.ann, map[string]any{}, &run)
	waitFor(t, func() bool {
		var v runView
		a.call("GET", "/api/v1/runs/"+run.ID, a.viewer, nil, &v)
		return v.Status == workflows.RunSucceeded
	})
	var p Problem
	want := "run " + run.ID + " has already ended: succeeded"
	if got := a.call("POST", "/api/v1/runs/"+run.ID+"/cancel", a.ann, map[string]any{"reason": "stuck"}, &p); got != 409 || p.Error != want || len(p.Details) != 0 {
		t.Errorf("cancelling an ended run: %d %+v, want 409 %q", got, p, want)
	}
	log, _, err := a.st.AuditEntries(store.AuditFilter{Run: run.ID, Action: store.ActionRunCancel})
	if err != nil {
		t.Fatal(err)
	}
	// Nothing but the refusal is recorded.
	if len(log) != 1 || log[0].Outcome != store.AuditRefused || log[0].Reason != want || log[0].Actor != "ann" ||
		log[0].Detail != `{"reason":"stuck","status":409}` {
		t.Errorf("a refused cancel is audited as refused: %+v", log)
	}
	var v runView
	a.call("GET", "/api/v1/runs/"+run.ID, a.viewer, nil, &v)
	if v.Status != workflows.RunSucceeded {
		t.Errorf("after the refused cancel: %s", v.Status)
	}
}

func selfApprovalListed(t *testing.T, a *trustAPI) {
	src := `apiVersion: runbook/v1
kind: Runbook
metadata: {name: selfok}
spec:
  steps:
    - id: board
      approval: {approvers: ["group:board"], allowSelfApproval: true}
`
	a.register(src, 201)
	var run runView
	a.call("POST", "/api/v1/runbooks/selfok/runs", a.ann, map[string]any{}, &run)
	a.waiting(run.ID)
	var list struct{ Approvals []pendingApproval }
	a.call("GET", "/api/v1/approvals?mine=true", a.ann, nil, &list)
	found := false
	for _, p := range list.Approvals {
		found = found || p.Run == run.ID && p.Mine
	}
	if !found {
		t.Errorf("the starter's mine=true list leaves out its self-approvable run: %+v", list.Approvals)
	}
	if got := a.vote(a.ann, run.ID); got != 200 {
		t.Errorf("the starter's vote: %d", got)
	}
}
