package workflows

import (
	"go.temporal.io/sdk/workflow"
)

// compensate undoes completed steps in reverse order. A failing undo is
// recorded on its step and the others still run. The undone step's entry
// says when its undo ran; compensate.steps get entries of their own (phase
// compensate, of the undone step's item) before they run. These only
// describe the run: no expression reads them and no command depends on
// them, so runs recorded before them replay the same.
func (r *run) compensate(ctx workflow.Context) {
	for i := len(r.compensations) - 1; i >= 0; i-- {
		c := r.compensations[i]
		s := c.step
		start := workflow.Now(ctx)
		c.state.CompensationStartedAt = &start
		var err error
		if s.Compensate.Action != "" {
			actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: DefaultActionTimeout})
			// The undo's log lines follow the step's own attempts.
			scratch := &StepState{Item: c.state.Item, Attempts: c.state.Attempts}
			_, err = r.runActivity(actx, c.scope, s, s.Compensate.Action, s.Compensate.ActionFacts, s.Compensate.With, scratch)
		} else {
			for _, st := range r.declare(c.scope, s.Compensate.Steps, c.state.Loop, c.state.Item, PhaseCompensate) {
				st.Compensates = s.ID
			}
			err = r.list(ctx, c.scope, s.Compensate.Steps)
		}
		end := workflow.Now(ctx)
		c.state.CompensationEndedAt = &end
		if err != nil {
			c.state.CompensationError = r.asStepError(err, false).message
			r.logger(ctx).Error("compensation failed", "step", s.ID, "error", err)
			continue
		}
		c.state.Status = StatusCompensated
	}
	r.compensations = nil
}
