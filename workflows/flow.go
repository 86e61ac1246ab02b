package workflows

import (
	"fmt"
	"math"
	"time"

	"github.com/opsrunbook/runbook/plan"

	"go.temporal.io/sdk/workflow"
)

// parallel runs each branch in its own coroutine. With failFast the first
// failure cancels the other branches' activities and timers.
func (r *run) parallel(ctx workflow.Context, sc *scope, s *plan.Step) error {
	bctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(s.Steps))
	wg := workflow.NewWaitGroup(ctx)
	for i, b := range s.Steps {
		wg.Add(1)
		workflow.Go(bctx, func(c workflow.Context) {
			defer wg.Done()
			errs[i] = r.step(c, sc, b)
			if errs[i] != nil && s.FailFast {
				cancel()
			}
		})
	}
	wg.Wait(ctx)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	// The first real failure in branch order; cancellations it caused follow.
	var first error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if _, ok := err.(*stepError); ok {
			return err
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// forEachPlan evaluates a forEach's items and settings.
func (r *run) forEachPlan(sc *scope, s *plan.Step) (*forEachProgress, error) {
	vars := r.vars(sc)
	x, err := r.ev.Eval(s.ForEach, vars)
	if err != nil {
		return nil, &stepError{step: s.ID, typ: ErrExpression, message: err.Error()}
	}
	items, ok := x.([]any)
	if !ok {
		return nil, &stepError{step: s.ID, typ: ErrExpression, message: "forEach did not give a list"}
	}
	if len(items) > MaxForEachItems {
		return nil, &stepError{step: s.ID, typ: ErrExpression, message: fmt.Sprintf("forEach has %d items; the limit is %d", len(items), MaxForEachItems)}
	}
	width, err := r.ev.Count(s.MaxConcurrency, vars)
	if err != nil || width < 1 {
		return nil, &stepError{step: s.ID, typ: ErrExpression, message: fmt.Sprintf("maxConcurrency: %v (must be at least 1)", errOr(err, width))}
	}
	batch := len(items)
	if !s.BatchSize.IsZero() {
		if batch, err = r.ev.Count(s.BatchSize, vars); err != nil || batch < 1 {
			return nil, &stepError{step: s.ID, typ: ErrExpression, message: fmt.Sprintf("batchSize: %v (must be at least 1)", errOr(err, batch))}
		}
	}
	allowed := 0
	if me := s.MaxErrors; me != nil {
		if me.Percent > 0 {
			allowed = int(math.Floor(me.Percent * float64(len(items)) / 100))
		} else if allowed, err = r.ev.Count(me.Count, vars); err != nil {
			return nil, &stepError{step: s.ID, typ: ErrExpression, message: "maxErrors: " + err.Error()}
		}
	}
	return &forEachProgress{Items: items, Width: width, Batch: batch, Allowed: allowed, Results: make([]any, len(items))}, nil
}

// forEach runs the body once per item: maxConcurrency at a time, batch by
// batch, until failures exceed maxErrors. Past the history budget it stops
// starting items, lets those running finish, and hands over.
func (r *run) forEach(ctx workflow.Context, sc *scope, s *plan.Step, st *StepState) error {
	p, err := r.loopProgress(sc, s)
	if err != nil {
		return err
	}
	items, width, batch, allowed, results := p.Items, p.Width, p.Batch, p.Allowed, p.Results
	succeeded, failed, running, started := p.Succeeded, p.Failed, 0, 0
	var firstErr error
	if p.FirstErr != nil {
		firstErr = &stepError{step: p.FirstErr.Step, typ: p.FirstErr.Type, message: p.FirstErr.Message}
	}
	countFailure := func(err error) {
		failed++
		if firstErr == nil {
			firstErr = err
		}
	}
	// Runs started before this version counted a failure once its onError
	// had finished, so items kept starting while onError ran.
	atFailure := workflow.GetVersion(ctx, "foreach-count-at-failure", workflow.DefaultVersion, 1) >= 1
	wg := workflow.NewWaitGroup(ctx)
	for start := p.Next - p.Next%batch; start < len(items) && failed <= allowed; start += batch {
		for i := max(start, p.Next); i < min(start+batch, len(items)); i++ {
			if started > 0 && r.overBudget(ctx, s) {
				wg.Wait(ctx)
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if failed <= allowed {
					return r.forEachHandOver(s, p, i, succeeded, failed, firstErr)
				}
			}
			if err := workflow.Await(ctx, func() bool { return running < width || failed > allowed }); err != nil {
				return err
			}
			if failed > allowed {
				break
			}
			running++
			started++
			wg.Add(1)
			workflow.Go(ctx, func(c workflow.Context) {
				defer wg.Done()
				var onFail func(error)
				if atFailure {
					onFail = countFailure
				}
				out, err := r.item(c, sc, s, i, items[i], onFail)
				running--
				if err != nil {
					if !atFailure {
						countFailure(err)
					}
					return
				}
				succeeded++
				results[i] = out
			})
		}
		wg.Wait(ctx)
	}
	wg.Wait(ctx)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	st.Outputs = plan.ForEachOutputValue(succeeded, failed, results)
	if failed > allowed {
		se := r.asStepError(firstErr, false)
		return &stepError{step: s.ID, typ: ErrForEachBudget,
			message: fmt.Sprintf("%d of %d items failed, more than maxErrors (%d); first: %s: %s", failed, len(items), allowed, se.step, se.message)}
	}
	return nil
}

// loopProgress is where a forEach starts: where the previous execution
// stopped it, or its first item.
func (r *run) loopProgress(sc *scope, s *plan.Step) (*forEachProgress, error) {
	l := r.takeLoop(s.ID)
	if l == nil || l.ForEach == nil {
		return r.forEachPlan(sc, s)
	}
	p := *l.ForEach
	items, err := restoredItems(p.Items)
	if err != nil {
		return nil, &stepError{step: s.ID, typ: ErrBadPlan, message: "hand-over: " + err.Error()}
	}
	p.Items = items
	if len(p.Results) != len(items) {
		return nil, &stepError{step: s.ID, typ: ErrBadPlan, message: "hand-over: results do not match items"}
	}
	return &p, nil
}

// forEachHandOver stops a forEach before item next, every item before it
// finished.
func (r *run) forEachHandOver(s *plan.Step, p *forEachProgress, next, succeeded, failed int, firstErr error) error {
	q := *p
	q.Items, q.Next, q.Succeeded, q.Failed = carriedItems(p.Items), next, succeeded, failed
	if firstErr != nil {
		se := r.asStepError(firstErr, false)
		q.FirstErr = &carriedError{Step: se.step, Type: se.typ, Message: se.message}
	}
	return &handOver{loop: carriedLoop{Step: s.ID, ForEach: &q}}
}

func errOr(err error, n int) any {
	if err != nil {
		return err
	}
	return n
}

// item runs the body for one item in its own scope; on failure, onFail
// (if set) is told at once, then onError runs with error and the loop
// variable in scope. It returns the outputs of the body's last step.
func (r *run) item(ctx workflow.Context, sc *scope, s *plan.Step, i int, item any, onFail func(error)) (map[string]any, error) {
	isc := newScope(sc)
	isc.vars[s.As] = item
	idx := i
	r.declare(isc, s.Steps, s.ID, &idx, "")
	err := r.list(ctx, isc, s.Steps)
	if err == nil {
		last := isc.states[s.Steps[len(s.Steps)-1].ID]
		return last.Outputs, nil
	}
	if onFail != nil {
		onFail(err)
	}
	if len(s.OnError) > 0 && ctx.Err() == nil {
		se := r.asStepError(err, false)
		esc := newScope(isc)
		esc.vars[plan.VarError] = plan.ErrorValue(se.step, se.message, se.typ)
		r.declare(esc, s.OnError, s.ID, &idx, PhaseOnError)
		if oerr := r.list(ctx, esc, s.OnError); oerr != nil {
			r.logger(ctx).Warn("onError failed", "step", s.ID, "item", i, "error", oerr)
		}
	}
	return nil, err
}

// freezeChildVersion marks runs that check freezes before a sub-runbook.
const freezeChildVersion = "freeze-child"

// subRunbook runs the embedded child plan as a child workflow; a freeze
// over the child fails the step (Frozen).
func (r *run) subRunbook(ctx workflow.Context, sc *scope, s *plan.Step, st *StepState) error {
	child := s.Runbook.Plan
	if child == nil {
		return &stepError{step: s.ID, typ: ErrBadPlan, message: "sub-runbook " + s.Runbook.Name + " has no embedded plan"}
	}
	vars := r.vars(sc)
	given := map[string]any{}
	for _, k := range plan.SortedKeys(s.Runbook.Params) {
		x, err := r.ev.Render(s.Runbook.Params[k], vars)
		if err != nil {
			return &stepError{step: s.ID, typ: ErrExpression, message: fmt.Sprintf("param %s: %v", k, err)}
		}
		given[k] = plan.JSONValue(x)
	}
	params, err := child.BindParams(given)
	if err != nil {
		return &stepError{step: s.ID, typ: "BadInput", message: err.Error()}
	}
	if b, frozen := plan.BlackoutAt(r.in.Blackouts, child.Name, workflow.Now(ctx)); frozen && workflow.GetVersion(ctx, freezeChildVersion, workflow.DefaultVersion, 1) >= 1 {
		return &stepError{step: s.ID, typ: ErrFrozen, message: fmt.Sprintf("runbook %s is frozen by freeze %s until %s: %s", child.Name, b.Freeze, b.To.UTC().Format(time.RFC3339), b.Reason)}
	}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: ChildID(r.status.RunID, s.ID, st.Item)})
	var res RunResult
	err = workflow.ExecuteChildWorkflow(cctx, WorkflowName, RunInput{
		Plan: child, Params: params, Trigger: plan.RunTriggerParent, TriggeredBy: r.status.RunID, Version: r.in.Version,
		StartedBy: r.startedBy(), VoteKey: r.in.VoteKey, HistoryBudget: r.in.HistoryBudget, Blackouts: r.in.Blackouts,
	}).Get(ctx, &res)
	if err != nil {
		return activityError(s.ID, err)
	}
	st.Outputs = res.Outputs
	return nil
}
