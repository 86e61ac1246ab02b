package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/opsrunbook/runbook/plan"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// list runs steps in order; the first failure stops it.
func (r *run) list(ctx workflow.Context, sc *scope, steps []*plan.Step) error {
	for _, s := range steps {
		if err := r.step(ctx, sc, s); err != nil {
			return err
		}
	}
	return nil
}

// step runs one step and records its state. A failure of a step with
// continueOnError is recorded and swallowed.
func (r *run) step(ctx workflow.Context, sc *scope, s *plan.Step) error {
	st := sc.lookup(s.ID)
	if st == nil { // compensation steps are declared before they run
		r.declare(sc, []*plan.Step{s}, "", nil, PhaseCompensate)
		st = sc.states[s.ID]
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if r.resume != nil { // after a hand-over: on to the loop that handed over
		return r.resumeStep(ctx, sc, s, st)
	}
	if u := r.reused(st); u != nil { // a rerun takes what the earlier run recorded
		return r.reuseStep(ctx, sc, s, st, u)
	}
	if s.If != nil {
		ok, err := r.ev.EvalBool(s.If, r.vars(sc))
		if err != nil {
			return r.fail(ctx, st, s, &stepError{step: s.ID, typ: ErrExpression, message: err.Error()})
		}
		if !ok {
			r.skip(ctx, sc, s)
			return nil
		}
	}
	r.current = s.ID
	now := workflow.Now(ctx)
	st.Status, st.StartedAt = StatusRunning, &now
	return r.finishStep(ctx, sc, s, st, r.dispatchAsking(ctx, sc, s, st))
}

// dispatchAsking runs a step; a failure under onStepFailure: ask waits for
// a decision (see decision.go). A skipped step is recorded as skipped.
func (r *run) dispatchAsking(ctx workflow.Context, sc *scope, s *plan.Step, st *StepState) error {
	err := r.dispatch(ctx, sc, s, st)
	if err == nil || s.OnStepFailure == nil || s.ContinueOnError {
		return err
	}
	err, skipped := r.ask(ctx, sc, s, st, err)
	if skipped {
		return errSkipped
	}
	return err
}

// errSkipped tells finishStep that a decision skipped the step.
var errSkipped = errors.New("skipped by a decision")

// resumeStep passes a step the previous execution finished, and re-enters
// the one it was inside (the loop, or a group around it).
func (r *run) resumeStep(ctx workflow.Context, sc *scope, s *plan.Step, st *StepState) error {
	if st.Status != StatusRunning {
		return nil
	}
	r.current = s.ID
	return r.finishStep(ctx, sc, s, st, r.dispatchAsking(ctx, sc, s, st))
}

// finishStep records how a step that ran ended.
func (r *run) finishStep(ctx workflow.Context, sc *scope, s *plan.Step, st *StepState, err error) error {
	if _, ok := err.(*handOver); ok { // still running, in the next execution
		return err
	}
	if err == errSkipped { // recorded by the decision
		return nil
	}
	var exit *exitRun
	if errors.As(err, &exit) {
		r.succeed(ctx, st)
		return err
	}
	if err != nil {
		return r.fail(ctx, st, s, err)
	}
	r.succeed(ctx, st)
	return nil
}

func (r *run) dispatch(ctx workflow.Context, sc *scope, s *plan.Step, st *StepState) error {
	switch s.Kind {
	case plan.StepAction:
		return r.action(ctx, sc, s, st)
	case plan.StepApproval:
		return r.approval(ctx, sc, s, st)
	case plan.StepParallel:
		return r.parallel(ctx, sc, s)
	case plan.StepGroup:
		return r.list(ctx, sc, s.Steps)
	case plan.StepForEach:
		return r.forEach(ctx, sc, s, st)
	case plan.StepRunbook:
		return r.subRunbook(ctx, sc, s, st)
	case plan.StepSleep:
		d, err := r.ev.Duration(s.Sleep, r.vars(sc))
		if err != nil {
			return &stepError{step: s.ID, typ: ErrExpression, message: err.Error()}
		}
		return workflow.Sleep(ctx, d)
	case plan.StepWaitFor:
		return r.waitFor(ctx, sc, s, st)
	case plan.StepAssert:
		return r.assert(sc, s, st)
	case plan.StepSet:
		vars := r.vars(sc)
		for _, v := range s.Set {
			x, err := r.ev.Eval(v.Expr, vars)
			if err != nil {
				return &stepError{step: s.ID, typ: ErrExpression, message: fmt.Sprintf("vars.%s: %v", v.Name, err)}
			}
			r.varsVar[v.Name] = x
		}
		return nil
	case plan.StepExit:
		msg := ""
		if s.Exit.Message != nil {
			x, err := r.ev.Render(s.Exit.Message, r.vars(sc))
			if err != nil {
				return &stepError{step: s.ID, typ: ErrExpression, message: err.Error()}
			}
			msg = plan.Text(x)
		}
		st.Message = msg
		return &exitRun{message: msg}
	}
	return &stepError{step: s.ID, typ: ErrBadPlan, message: "unknown step kind " + string(s.Kind)}
}

func (r *run) assert(sc *scope, s *plan.Step, st *StepState) error {
	vars := r.vars(sc)
	ok, err := r.ev.EvalBool(s.Assert.That, vars)
	if err != nil {
		return &stepError{step: s.ID, typ: ErrExpression, message: err.Error()}
	}
	if ok {
		return nil
	}
	msg := "assertion failed: " + s.Assert.That.Src
	if s.Assert.Message != nil {
		if x, err := r.ev.Render(s.Assert.Message, vars); err == nil {
			msg = plan.Text(x)
		}
	}
	st.Message = msg
	return &stepError{step: s.ID, typ: ErrAssertion, message: msg}
}

func (r *run) succeed(ctx workflow.Context, st *StepState) {
	now := workflow.Now(ctx)
	st.Status, st.EndedAt = StatusSucceeded, &now
}

// fail records a failure; with continueOnError the run goes on.
func (r *run) fail(ctx workflow.Context, st *StepState, s *plan.Step, err error) error {
	now := workflow.Now(ctx)
	st.EndedAt = &now
	se := r.asStepError(err, false)
	if se.step == "" {
		se.step = s.ID
	}
	st.Status, st.Error, st.ErrorType = StatusFailed, se.message, se.typ
	if ctx.Err() != nil || temporal.IsCanceledError(err) {
		st.Status = StatusCancelled
		return err
	}
	if s.ContinueOnError {
		return nil
	}
	return se
}

// skip marks a step and the steps inline in it (a group's, a parallel's)
// skipped; a loop's body, an item's error handler and an undo are left as
// they are. Since skipTimeVersion a skipped entry's endedAt says when its
// if was found false (expressions read steps.<id>.endedAt, so runs
// recorded before keep none).
func (r *run) skip(ctx workflow.Context, sc *scope, s *plan.Step) {
	if st := sc.lookup(s.ID); st != nil {
		st.Status = StatusSkipped
		if workflow.GetVersion(ctx, skipTimeVersion, workflow.DefaultVersion, 1) >= 1 {
			now := workflow.Now(ctx)
			st.EndedAt = &now
		}
	}
	for _, sec := range s.Children() {
		if sec.Runs != plan.RunsInline {
			continue
		}
		for _, c := range sec.Steps {
			r.skip(ctx, sc, c)
		}
	}
}

// skipTimeVersion guards the endedAt of skipped steps.
const skipTimeVersion = "skip-time"

// action runs an action step: its inputs rendered (those reading secrets
// deferred to the activity), retried by policy, repeated until its
// condition holds.
func (r *run) action(ctx workflow.Context, sc *scope, s *plan.Step, st *StepState) error {
	vars := r.vars(sc)
	timeout, err := r.ev.Duration(s.Timeout, vars)
	if err != nil {
		return &stepError{step: s.ID, typ: ErrExpression, message: err.Error()}
	}
	if timeout == 0 {
		timeout = DefaultActionTimeout
	}
	policy, err := r.retryPolicy(s.Retry, vars)
	if err != nil {
		return &stepError{step: s.ID, typ: ErrExpression, message: err.Error()}
	}
	opts := workflow.ActivityOptions{StartToCloseTimeout: timeout, RetryPolicy: policy}
	if r.factsOf(s.Action, s.ActionFacts).Heartbeats {
		opts.HeartbeatTimeout = HeartbeatTimeout
	}
	actx := workflow.WithActivityOptions(ctx, opts)
	var deadline time.Time
	var every, limit time.Duration
	resumed := r.takeLoop(s.ID)
	if rp := s.Repeat; rp != nil {
		if every, err = r.ev.Duration(rp.Every, vars); err != nil {
			return &stepError{step: s.ID, typ: ErrExpression, message: err.Error()}
		}
		if resumed != nil && resumed.Repeat != nil {
			deadline, limit = resumed.Repeat.Deadline, resumed.Repeat.Limit
			if d := resumed.Repeat.NextAt.Sub(workflow.Now(ctx)); d > 0 {
				if err := workflow.Sleep(ctx, d); err != nil {
					return err
				}
			}
		} else if !rp.Timeout.IsZero() {
			d, err := r.ev.Duration(rp.Timeout, vars)
			if err != nil {
				return &stepError{step: s.ID, typ: ErrExpression, message: err.Error()}
			}
			deadline, limit = workflow.Now(ctx).Add(d), d
		}
	}
	for {
		out, err := r.runActivity(actx, sc, s, s.Action, s.ActionFacts, s.With, st)
		if err != nil {
			return err
		}
		st.Outputs = out
		if s.Repeat == nil {
			break
		}
		v := r.vars(sc)
		v[plan.VarOutputs] = typedOutputs(out, s.Outputs)
		done, err := r.ev.EvalBool(s.Repeat.Until, v)
		if err != nil {
			return &stepError{step: s.ID, typ: ErrExpression, message: err.Error()}
		}
		if done {
			break
		}
		if now := workflow.Now(ctx); !deadline.IsZero() && !now.Add(every).Before(deadline) {
			msg := fmt.Sprintf("repeat.until %s still false after %s; last outputs: %s", s.Repeat.Until.Src, limit, lastProbe(out))
			// The repeat gives up when the next probe would start past the
			// timeout, so say how long it really tried.
			if workflow.GetVersion(ctx, repeatTimeoutVersion, workflow.DefaultVersion, 1) >= 1 {
				msg = fmt.Sprintf("repeat.until %s still false after %s; the next probe, %s later, would pass the %s timeout; last outputs: %s",
					s.Repeat.Until.Src, (limit - deadline.Sub(now)).Round(time.Millisecond), every, limit, lastProbe(out))
			}
			return &stepError{step: s.ID, typ: ErrRepeatTimeout, message: msg}
		}
		if r.overBudget(ctx, s) {
			return &handOver{loop: carriedLoop{Step: s.ID, Repeat: &repeatProgress{Deadline: deadline, Limit: limit, NextAt: workflow.Now(ctx).Add(every)}}}
		}
		if err := workflow.Sleep(ctx, every); err != nil {
			return err
		}
	}
	if s.Compensate != nil {
		r.compensations = append(r.compensations, compensation{step: s, scope: sc, state: st})
	}
	return nil
}

// repeatTimeoutVersion guards the repeat timeout's message, which
// error.message shows to onFailure: runs recorded before keep the old one.
const repeatTimeoutVersion = "repeat-timeout-message"

// runActivity renders inputs and executes one action.
func (r *run) runActivity(ctx workflow.Context, sc *scope, s *plan.Step, action string, facts plan.ActionFacts, with map[string]*plan.Value, st *StepState) (map[string]any, error) {
	return r.runLinked(ctx, sc, s, action, facts, with, st, "")
}

// runLinked is runActivity with the console page the call is about
// (plan.ActionInput.Link), "" for none.
func (r *run) runLinked(ctx workflow.Context, sc *scope, s *plan.Step, action string, facts plan.ActionFacts, with map[string]*plan.Value, st *StepState, link string) (map[string]any, error) {
	in, err := r.actionInput(sc, s.ID, with)
	if err != nil {
		return nil, err
	}
	// Which item and attempt the worker files the call's log lines under;
	// data of the input only, so histories replay as they were.
	in.Item, in.Attempts, in.Link = st.Item, st.Attempts, link
	var out plan.ActionOutput
	if r.factsOf(action, facts).Local && r.in.LocalActions {
		lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: time.Minute,
			RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 3}})
		err = workflow.ExecuteLocalActivity(lctx, action, in).Get(ctx, &out)
		r.countLocal(ctx, 1)
	} else {
		for lost := 0; ; lost++ {
			in.Attempts = st.Attempts
			err = workflow.ExecuteActivity(ctx, action, in).Get(ctx, &out)
			// A worker that died mid-action is not the action failing:
			// run it again, whatever the step's retry policy says.
			if !workerLost(err) || lost == MaxWorkerLosses || workflow.GetVersion(ctx, "retry-lost-worker", workflow.DefaultVersion, 1) < 1 {
				break
			}
			st.Attempts++
		}
	}
	if err != nil {
		st.Attempts += failedAttempts(ctx, err)
		return nil, activityError(s.ID, err)
	}
	st.Attempts += max(out.Attempt, 1)
	return out.Outputs, nil
}

// failedAttempts is how many attempts an action that failed made: what
// the worker reported with the failure (plan.AttemptDetail), else,
// when retries ran out (a timeout, a worker that reports nothing), the
// policy's maximum; else 1.
func failedAttempts(ctx workflow.Context, err error) int {
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.HasDetails() {
		var d plan.AttemptDetail
		if app.Details(&d) == nil && d.Attempt > 0 {
			return d.Attempt
		}
	}
	var ae *temporal.ActivityError
	if errors.As(err, &ae) && ae.RetryState() == enumspb.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED {
		if p := workflow.GetActivityOptions(ctx).RetryPolicy; p != nil && p.MaximumAttempts > 0 {
			return int(p.MaximumAttempts)
		}
	}
	return 1
}

// workerLost tells a heartbeat timeout: the worker running the action
// stopped answering (actions that heartbeat do so whatever they run).
func workerLost(err error) bool {
	var te *temporal.TimeoutError
	return errors.As(err, &te) && te.TimeoutType() == enumspb.TIMEOUT_TYPE_HEARTBEAT
}

// actionInput renders what the workflow may render and defers to the
// activity the values that read secrets, with the variables they read.
func (r *run) actionInput(sc *scope, stepID string, with map[string]*plan.Value) (plan.ActionInput, error) {
	in := plan.ActionInput{Runbook: r.plan.Name, RunID: r.status.RunID, StepID: stepID, Inputs: map[string]any{}}
	vars := r.vars(sc)
	for _, k := range plan.SortedKeys(with) {
		v := with[k]
		secret := false
		v.Exprs(func(x *plan.Expr) { secret = secret || len(x.Secrets) > 0 })
		if secret {
			if in.Deferred == nil {
				in.Deferred, in.Vars = map[string]*plan.Value{}, plan.EncodeVars(vars)
				delete(in.Vars, plan.VarSecrets)
			}
			in.Deferred[k] = v
			continue
		}
		x, err := r.ev.Render(v, vars)
		if err != nil {
			return in, &stepError{step: stepID, typ: ErrExpression, message: fmt.Sprintf("input %s: %v", k, err)}
		}
		in.Inputs[k] = plan.JSONValue(x)
	}
	return in, nil
}

func (r *run) retryPolicy(p *plan.Retry, vars plan.Vars) (*temporal.RetryPolicy, error) {
	if p == nil {
		return &temporal.RetryPolicy{MaximumAttempts: 1}, nil
	}
	initial, err := r.ev.Duration(p.InitialInterval, vars)
	if err != nil {
		return nil, err
	}
	var maxInterval time.Duration
	if !p.MaxInterval.IsZero() {
		if maxInterval, err = r.ev.Duration(p.MaxInterval, vars); err != nil {
			return nil, err
		}
	}
	return &temporal.RetryPolicy{
		InitialInterval:        initial,
		BackoffCoefficient:     p.Backoff,
		MaximumInterval:        maxInterval,
		MaximumAttempts:        int32(p.MaxAttempts),
		NonRetryableErrorTypes: p.NonRetryable,
	}, nil
}

// activityError unwraps an activity failure into a step error with the
// action's error type.
func activityError(step string, err error) error {
	if temporal.IsCanceledError(err) {
		return err
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return &stepError{step: step, typ: app.Type(), message: app.Message()}
	}
	var te *temporal.TimeoutError
	if errors.As(err, &te) {
		return &stepError{step: step, typ: ErrRunTimeout, message: "the action timed out (" + te.TimeoutType().String() + ")"}
	}
	return &stepError{step: step, typ: "ActivityError", message: err.Error()}
}

// lastProbe is a repeat's last outputs as the timeout's message shows them:
// JSON, cut at 300 bytes.
func lastProbe(out map[string]any) string {
	b, err := json.Marshal(plan.JSONValue(out))
	if err != nil {
		return "(not JSON)"
	}
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}
