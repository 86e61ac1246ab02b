package server

import (
	"testing"

	"github.com/opsrunbook/runbook/runbooks"
	"github.com/opsrunbook/runbook/store"
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
