package server

import (
	"testing"

	"github.com/opsrunbook/runbook/runbooks"
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
	if got := a.call("POST", "/api/v1/runs/"+run.ID+"/cancel", a.ann, nil, &p); got != 409 || p.Error != "the run is not running" {
		t.Errorf("cancelling an ended run: %d %+v, want 409", got, p)
	}
	log, err := a.st.AuditLog("run.cancel", 100)
	if err != nil {
		t.Fatal(err)
	}
	if hasAudit(log, "ann", run.ID) {
		t.Error("a refused cancel was audited")
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

// A trigger sees resolved alerts too, and a resolution is not a duplicate
// of the firing it ends.
func TestResolvedAlertsMatch(t *testing.T) {
	c := temporalStack(t)
	eachStore(t, func(t *testing.T, st *store.Store) {
		a := newTrustAPI(t, c, st)
		src := `apiVersion: runbook/v1
kind: Runbook
metadata: {name: flap}
spec:
  params: [{name: state, type: string, default: none}]
  triggers:
    - alertmanager: {match: "alert.labels.alertname == 'Flap'", params: {state: alert.status}}
  steps:
    - {id: hi, action: log, with: {message: "${{ params.state }}"}}
`
		if got := a.call("POST", "/api/v1/runbooks", a.author, src, nil); got != 201 {
			t.Fatalf("register: %d", got)
		}
		post := func(status string) hookResult {
			alert := map[string]any{"status": status, "alerts": []any{map[string]any{"status": status, "fingerprint": "f1",
				"startsAt": "2026-12-01T09:00:00Z", "labels": map[string]any{"alertname": "Flap"}}}}
			var res struct {
				Runs []hookResult `json:"runs"`
			}
			if got := a.call("POST", "/hooks/alertmanager", a.am, alert, &res); got != 200 || len(res.Runs) != 1 {
				t.Fatalf("%s alert: %d %+v", status, got, res)
			}
			return res.Runs[0]
		}
		fired := post("firing")
		resolved := post("resolved")
		if resolved.Outcome != "started" || resolved.Run == "" || resolved.Run == fired.Run {
			t.Fatalf("the resolved alert: %+v (firing: %+v)", resolved, fired)
		}
		var v runView
		a.call("GET", "/api/v1/runs/"+resolved.Run, a.viewer, nil, &v)
		if v.Params["state"] != "resolved" {
			t.Errorf("the resolved run's params: %v", v.Params)
		}
		if again := post("resolved"); again.Outcome != "duplicate" || again.Run != resolved.Run {
			t.Errorf("the resolved alert again: %+v", again)
		}
	})
}

func subRunbookDoc(name, body string) string {
	return "apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: " + name + "}\nspec:\n  steps:\n" + body
}

func (a *trustAPI) register(src string, want int) runbookView {
	a.t.Helper()
	var v runbookView
	var p Problem
	if got := a.call("POST", "/api/v1/runbooks", a.author, src, &v); got != want {
		a.call("POST", "/api/v1/runbooks", a.author, src, &p)
		a.t.Fatalf("register: %d, want %d: %+v", got, want, p)
	}
	return v
}

// Registration refuses a cycle of sub-runbooks among the registered
// runbooks, as validate does within a set of files.
func TestSubRunbookCycleRegistration(t *testing.T) {
	c := temporalStack(t)
	eachStore(t, func(t *testing.T, st *store.Store) {
		a := newTrustAPI(t, c, st)
		register := a.register
		register(subRunbookDoc("cb", "    - {id: hi, action: log, with: {message: b}}\n"), 201)
		register(subRunbookDoc("ca", "    - {id: sub, runbook: {name: cb}}\n"), 201)
		cycle := subRunbookDoc("cb", "    - {id: hi, action: log, with: {message: b}}\n    - {id: back, runbook: {name: ca}}\n")
		var p struct {
			Error   string
			Details []runbooks.Diagnostic
		}
		if got := a.call("POST", "/api/v1/runbooks", a.author, cycle, &p); got != 422 || len(p.Details) != 1 ||
			p.Details[0].String() != "runbook.yaml:7:34: runbooks run each other in a cycle: cb -> ca -> cb" || p.Details[0].Code != runbooks.CodeCycle {
			t.Errorf("a cycle through the registered ca: %d %+v", got, p)
		}
		var versions struct{ Versions []runbookView }
		a.call("GET", "/api/v1/runbooks/cb/versions", a.viewer, nil, &versions)
		if len(versions.Versions) != 1 {
			t.Errorf("the refused cycle made a version: %+v", versions.Versions)
		}
	})
}

// A parent applied again after its child changed gets a new version that
// embeds the new child.
func TestParentFollowsChangedChild(t *testing.T) {
	c := temporalStack(t)
	eachStore(t, func(t *testing.T, st *store.Store) {
		a := newTrustAPI(t, c, st)
		register := a.register
		parent := subRunbookDoc("par", "    - {id: sub, runbook: {name: kid}}\n")
		register(subRunbookDoc("kid", "    - {id: hi, action: log, with: {message: one}}\n"), 201)
		p1 := register(parent, 201)
		kid2 := register(subRunbookDoc("kid", "    - {id: hi, action: log, with: {message: two}}\n"), 201)
		p2 := register(parent, 201)
		if p2.Version != p1.Version+1 {
			t.Fatalf("the parent after its child changed: v%d, was v%d", p2.Version, p1.Version)
		}
		var got runbookView
		a.call("GET", "/api/v1/runbooks/par", a.viewer, nil, &got)
		if child := got.Plan.Steps[0].Runbook.Plan; child == nil || child.Hash != kid2.Hash {
			t.Errorf("the parent's new version embeds %+v, want kid v%d", child, kid2.Version)
		}
		if again := register(parent, 200); again.Version != p2.Version {
			t.Errorf("the unchanged parent applied again: v%d", again.Version)
		}
	})
}
