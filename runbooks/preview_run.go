package runbooks

import (
	"time"

	"github.com/opsrunbook/runbook/plan"
)

// RunState is what a preview of a started run knows of it: its params as
// bound at the start, who started it, and the steps that ended.
type RunState struct {
	Run    plan.RunVars
	Params map[string]any
	// Ended holds the top-level and block steps that ended, by id
	// (forEach items excluded: they have a scope of their own).
	Ended map[string]StepResult
}

// StepResult is an ended step as expressions read it.
type StepResult struct {
	Status  string         `json:"status"`
	Outputs map[string]any `json:"outputs,omitempty"`
}

func (r StepResult) value() map[string]any {
	out := r.Outputs
	if out == nil {
		out = map[string]any{}
	}
	return map[string]any{"status": r.Status, "outputs": out}
}

// PreviewRun dry-runs what is left of a started run as of now: the steps
// that ended are marked done, and the others are previewed with the ended
// steps' outputs, so their inputs render as far as those allow. vars are
// as the run computed them at its start, followed through the set steps
// whose values the preview can tell.
func PreviewRun(p *plan.Plan, st RunState, now time.Time) (*Preview, error) {
	given := map[string]any{}
	for _, d := range p.Params {
		if v, ok := st.Params[d.Name]; ok && !d.Fixed { // a fixed param is its default; giving it is refused
			given[d.Name] = v
		}
	}
	pv, err := preview(p, given, st.Run, st.Ended, now)
	if err != nil {
		return nil, err
	}
	for i := range pv.Params {
		if !pv.Params[i].Missing {
			pv.Params[i].Source = "the run's"
		}
	}
	pv.Schedules = nil // a run's preview is about the run
	return pv, nil
}
