package store

import (
	"fmt"
	"testing"

	"github.com/opsrunbook/runbook/plan"

	"github.com/opsrunbook/runbook/runbooks"
)

func buildPlan(t *testing.T, src string, children map[string]*plan.Plan) *plan.Plan {
	t.Helper()
	p, diags, err := runbooks.Build("rb.yaml", []byte(src), runbooks.Options{Runbooks: func(name string) (*plan.Plan, bool) {
		c, ok := children[name]
		return c, ok
	}})
	if err != nil {
		t.Fatalf("%v: %v", err, diags)
	}
	return p
}

// A parent is a new version when its embedded child changed, and the
// version a release before this one saved (keyed by the YAML alone) is
// still found when nothing changed.
func TestVersionHashCoversEmbeddedChildren(t *testing.T) {
	const kid = "apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: kid}\nspec:\n  steps:\n    - {id: ok, approval: {approvers: [%s]}}\n"
	const parent = "apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: par}\nspec:\n  steps:\n    - {id: sub, runbook: {name: kid}}\n"
	eachDB(t, func(t *testing.T, s *Store) {
		kid1 := buildPlan(t, fmt.Sprintf(kid, "ann"), nil)
		kid2 := buildPlan(t, fmt.Sprintf(kid, "bob"), nil)
		p1 := buildPlan(t, parent, map[string]*plan.Plan{"kid": kid1})
		p2 := buildPlan(t, parent, map[string]*plan.Plan{"kid": kid2})
		if VersionHash(kid1) != kid1.Hash || VersionHash(p1) == p1.Hash || VersionHash(p1) == VersionHash(p2) {
			t.Fatalf("hashes: kid %s/%s, parent %s %s", VersionHash(kid1), kid1.Hash, VersionHash(p1), VersionHash(p2))
		}
		// As an older release saved it: keyed by the YAML's hash.
		legacy, created, err := s.SaveRunbook(parent, p1, "alice")
		if err != nil || !created {
			t.Fatal(err)
		}
		if err := s.db.Model(legacy).Update("hash", p1.Hash).Error; err != nil {
			t.Fatal(err)
		}
		if v, created, err := s.SaveRunbook(parent, p1, "alice"); err != nil || created || v.Version != 1 {
			t.Errorf("the unchanged parent again: v%d created %v %v", v.Version, created, err)
		}
		if v, created, err := s.SaveRunbook(parent, p2, "alice"); err != nil || !created || v.Version != 2 {
			t.Errorf("the parent with a changed child: v%d created %v %v", v.Version, created, err)
		}
	})
}
