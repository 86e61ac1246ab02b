package server

import (
	"reflect"
	"slices"
	"testing"

	"github.com/opsrunbook/runbook/runbooks"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/workflows"
)

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

// An unknown sub-runbook at registration gets the did-you-mean that
// validate gives among files, from the registered names.
func TestSubRunbookDidYouMeanAtRegistration(t *testing.T) {
	c := temporalStack(t)
	eachStore(t, func(t *testing.T, st *store.Store) {
		a := newTrustAPI(t, c, st)
		a.register(subRunbookDoc("nightly-backup", "    - {id: hi, action: log, with: {message: b}}\n"), 201)
		var p struct{ Details []runbooks.Diagnostic }
		got := a.call("POST", "/api/v1/runbooks", a.author, subRunbookDoc("parent", "    - {id: sub, runbook: {name: nightly-backpu}}\n"), &p)
		const want = `runbook.yaml:6:33: spec.steps[0].runbook.name: unknown runbook "nightly-backpu" (did you mean "nightly-backup"?)`
		if got != 422 || len(p.Details) != 1 || p.Details[0].String() != want || p.Details[0].Code != runbooks.CodeUnknownRunbook {
			t.Errorf("got %d %+v, want 422 %s", got, p.Details, want)
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

// An approval inside a sub-runbook is listed, with the child run to vote
// through, and takes votes through the child's id or the parent's, with
// the run's rules: the parent's starter may not approve, N of M count.
func TestSubRunbookApprovals(t *testing.T) {
	c := temporalStack(t)
	eachStore(t, func(t *testing.T, st *store.Store) {
		a := newTrustAPI(t, c, st)
		a.register(subRunbookDoc("kidgate", "    - {id: check, approval: {approvers: [\"group:board\"], minApprovals: 2, timeout: 10m}}\n"), 201)
		a.register(subRunbookDoc("pargate", "    - {id: sub, runbook: {name: kidgate}}\n    - {id: after, action: log, with: {message: done}}\n"), 201)
		var run runView
		if got := a.call("POST", "/api/v1/runbooks/pargate/runs", a.ann, map[string]any{}, &run); got != 201 {
			t.Fatalf("start: %d", got)
		}
		child := run.ID + ".sub"
		var listed pendingApproval
		waitFor(t, func() bool {
			var list struct{ Approvals []pendingApproval }
			a.call("GET", "/api/v1/approvals?mine=true", a.bob, nil, &list)
			for _, p := range list.Approvals {
				if p.Parent == run.ID {
					listed = p
					return true
				}
			}
			return false
		})
		if want := (pendingApproval{Kind: KindApproval, Run: child, Parent: run.ID, Runbook: "kidgate", Step: "check", Approvers: []string{"group:board"}, Needed: 2, Mine: true}); !reflect.DeepEqual(listed, want) {
			t.Errorf("listed %+v, want %+v", listed, want)
		}
		var mine struct{ Approvals []pendingApproval }
		a.call("GET", "/api/v1/approvals?mine=true", a.ann, nil, &mine)
		for _, p := range mine.Approvals {
			if p.Run == child {
				t.Errorf("the starter's mine=true list has the sub-runbook's approval: %+v", p)
			}
		}
		vote := func(who, via string) (int, Problem) {
			var p Problem
			got := a.call("POST", "/api/v1/runs/"+via+"/approvals/check", who, map[string]any{"decision": "approve"}, &p)
			return got, p
		}
		if got, p := vote(a.ann, run.ID); got != 403 || p.Details[0].(map[string]any)["reason"] != workflows.VoteSelf {
			t.Errorf("the starter through the parent: %d %+v, want 403 SelfApproval", got, p)
		}
		if got, p := vote(a.bob, run.ID+".nope"); got != 404 {
			t.Errorf("a child run that does not exist: %d %+v, want 404", got, p)
		}
		if got, p := vote(a.bob, run.ID); got != 200 {
			t.Errorf("bob through the parent: %d %+v", got, p)
		}
		if got, p := vote(a.bob, child); got != 200 {
			t.Errorf("bob again, through the child: %d %+v, want 200 (the same vote)", got, p)
		}
		if got, p := vote(a.am, child); got != 200 {
			t.Errorf("am through the child: %d %+v", got, p)
		}
		var v runView
		waitFor(t, func() bool {
			a.call("GET", "/api/v1/runs/"+run.ID, a.viewer, nil, &v)
			return v.Status != workflows.RunRunning
		})
		if v.Status != workflows.RunSucceeded {
			t.Errorf("the parent: %s %s", v.Status, v.Error)
		}
		if votes, _ := st.Votes(child); len(votes) != 2 || votes[0].User != "bob" || votes[1].User != "alertmanager" || votes[0].Status != store.VoteCounted {
			t.Errorf("recorded votes: %+v", votes)
		}
		// The votes are in the audit trail under the recorded run, targets
		// the child that holds the step; bob's retry adds nothing.
		trail, _, _ := st.AuditEntries(store.AuditFilter{Run: run.ID, Action: store.ActionApprovalVote})
		var got []string
		for _, e := range trail {
			got = append(got, e.Actor+" "+e.Outcome+" "+e.Target+" "+e.Runbook)
		}
		if want := []string{"alertmanager ok " + child + "/check pargate", "bob ok " + child + "/check pargate", "ann refused " + child + "/check pargate"}; !reflect.DeepEqual(got, want) {
			t.Errorf("audited votes: %q, want %q", got, want)
		}
	})
}

// Through the parent, an approval step that several running sub-runbook
// runs hold (one per forEach item) is ambiguous: 409 names them, and a
// vote through each child's id counts.
func TestSubRunbookApprovalsInALoop(t *testing.T) {
	c := temporalStack(t)
	eachStore(t, func(t *testing.T, st *store.Store) {
		a := newTrustAPI(t, c, st)
		a.register(subRunbookDoc("kidloop", "    - {id: check, approval: {approvers: [\"group:board\"], timeout: 10m}}\n"), 201)
		a.register(subRunbookDoc("parloop", "    - id: each\n      forEach: \"[1, 2]\"\n      maxConcurrency: 2\n      steps:\n        - {id: sub, runbook: {name: kidloop}}\n"), 201)
		var run runView
		if got := a.call("POST", "/api/v1/runbooks/parloop/runs", a.ann, map[string]any{}, &run); got != 201 {
			t.Fatalf("start: %d", got)
		}
		children := []string{run.ID + ".sub.0", run.ID + ".sub.1"}
		waitFor(t, func() bool {
			var list struct{ Approvals []pendingApproval }
			a.call("GET", "/api/v1/approvals", a.bob, nil, &list)
			n := 0
			for _, p := range list.Approvals {
				if p.Parent == run.ID && slices.Contains(children, p.Run) {
					n++
				}
			}
			return n == 2
		})
		var p Problem
		if got := a.call("POST", "/api/v1/runs/"+run.ID+"/approvals/check", a.bob, map[string]any{"decision": "approve"}, &p); got != 409 ||
			p.Error != "2 running sub-runbook runs have approval step check: vote through one of them" {
			t.Errorf("through the parent: %d %+v, want 409", got, p)
		}
		for _, id := range children {
			if got := a.call("POST", "/api/v1/runs/"+id+"/approvals/check", a.bob, map[string]any{"decision": "approve"}, &p); got != 200 {
				t.Errorf("through %s: %d %+v", id, got, p)
			}
		}
		waitFor(t, func() bool {
			var v runView
			a.call("GET", "/api/v1/runs/"+run.ID, a.viewer, nil, &v)
			return v.Status == workflows.RunSucceeded
		})
	})
}
