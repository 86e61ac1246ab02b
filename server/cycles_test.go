package server

import (
	"testing"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/runbooks"
)

// TestCyclesNestedAnywhere: a registered child that runs the runbook again
// is a cycle wherever the runbook's step that runs it is nested, onError
// and compensate.steps included.
func TestCyclesNestedAnywhere(t *testing.T) {
	registered := map[string]*plan.Plan{}
	resolve := func(name string) (*plan.Plan, bool) { p, ok := registered[name]; return p, ok }
	build := func(src string) *plan.Plan {
		t.Helper()
		p, diags, err := runbooks.Build("runbook.yaml", []byte(src), runbooks.Options{Actions: activities.Catalog(), Runbooks: resolve})
		if err != nil {
			t.Fatalf("%v: %v", err, diags)
		}
		registered[p.Name] = p
		return p
	}
	build(subRunbookDoc("cb", "    - {id: hi, action: log, with: {message: b}}\n"))
	build(subRunbookDoc("ca", "    - {id: call, runbook: {name: cb}}\n"))
	for name, body := range map[string]string{
		"onError": "    - id: each\n      forEach: '[1]'\n      steps: [{id: hi, action: log, with: {message: b}}]\n" +
			"      onError: [{id: back, runbook: {name: ca}}]\n",
		"compensate.steps": "    - id: hi\n      action: log\n      with: {message: b}\n" +
			"      compensate: {steps: [{id: back, runbook: {name: ca}}]}\n",
	} {
		t.Run(name, func(t *testing.T) {
			src := subRunbookDoc("cb", body)
			doc, diags := runbooks.Parse("runbook.yaml", []byte(src))
			if doc == nil {
				t.Fatal(diags)
			}
			got := cycles("runbook.yaml", doc, resolve)
			if len(got) != 1 || got[0].Message != "runbooks run each other in a cycle: cb -> ca -> cb" {
				t.Errorf("cycles = %v", got)
			}
		})
	}
}
