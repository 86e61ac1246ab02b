package workflows

import "github.com/opsrunbook/runbook/plan"

// declarePlan adds the entries a run of p starts with: its steps, onFailure
// and finally, pending.
func (r *run) declarePlan(p *plan.Plan) {
	for i, list := range [][]*plan.Step{p.Steps, p.OnFailure, p.Finally} {
		r.declare(r.root, list, "", nil, []string{"", PhaseOnFailure, PhaseFinally}[i])
	}
}

// Declared is the timeline a run of p starts with, what its status query
// answers before any step has started; the API shows it for a running run
// whose worker is slow to answer and that nothing else is known of yet.
func Declared(p *plan.Plan) []StepState {
	r := &run{root: newScope(nil)}
	r.declarePlan(p)
	out := make([]StepState, len(r.timeline))
	for i, st := range r.timeline {
		out[i] = *st
	}
	return out
}
