package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/opsrunbook/runbook/plan"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opsrunbook/runbook/attest"
)

// A step whose plan has OnStepFailure (ask) does not fail the run when it
// fails: its entry waits, status waiting-decision, and the run's status is
// waiting_decision until a decider retries, skips or fails it through the
// decide Update (sealed by the API like a vote). See docs/execution.md.

// UpdateDecide is the Update that carries a decision.
const UpdateDecide = "decide"

// DecisionTimeoutUser is who a decision taken by the timeout is recorded as.
const DecisionTimeoutUser = "system:timeout"

// Reasons a decision is refused, as ApplicationError types.
const (
	DecisionNotWaiting = "NotWaiting"      // 409
	DecisionNotDecider = "NotDecider"      // 403
	DecisionInvalid    = "InvalidDecision" // 422; details: the problems, one a line
)

// decisionVersion guards the decision wait. Plans without onStepFailure
// never reach it, so recorded histories replay without it anyway.
const decisionVersion = "decision"

// DecisionRequest is the argument of the decide Update. User and Groups
// come from the caller's token; the API sends only Seal, a SignedDecision.
type DecisionRequest struct {
	Step    string              `json:"step"`
	Item    *int                `json:"item,omitempty"`
	Action  plan.DecisionAction `json:"action"`
	Comment string              `json:"comment,omitempty"`
	User    string              `json:"user"`
	Groups  []string            `json:"groups,omitempty"`
	// Outputs are a skipped step's outputs; Inputs override a retried
	// action's with.
	Outputs map[string]any `json:"outputs,omitempty"`
	Inputs  map[string]any `json:"inputs,omitempty"`
	Seal    *attest.Seal   `json:"seal,omitempty"`
}

// SignedDecision is the body the API seals for a decision.
type SignedDecision struct {
	attest.Header   `json:"seal"`
	DecisionRequest `json:"decision"`
}

// Decision is one decision recorded on a timeline entry.
type Decision struct {
	User    string              `json:"user"`
	Action  plan.DecisionAction `json:"action"`
	Comment string              `json:"comment,omitempty"`
	At      time.Time           `json:"at"`
	Outputs map[string]any      `json:"outputs,omitempty"`
	Inputs  map[string]any      `json:"inputs,omitempty"`
}

// decisionWait is a failed step waiting for a decision.
type decisionWait struct {
	step     *plan.Step
	state    *StepState
	deciders []string
	decided  *Decision
	acted    bool // the run has acted on the decision: the entry shows it
}

// asks reports whether err, a step's failure, waits for a decision: a
// failure of the step itself, not a cancellation, a hand-over or an exit.
func asks(ctx workflow.Context, err error) bool {
	var se *stepError
	return err != nil && ctx.Err() == nil && !temporal.IsCanceledError(err) && errors.As(err, &se)
}

// ask waits for decisions on a failed step until one ends it: it returns
// the failure to fail with (the step's own, or its last retry's), or
// skipped when a decider skipped it.
func (r *run) ask(ctx workflow.Context, sc *scope, s *plan.Step, st *StepState, err error) (_ error, skipped bool) {
	for asks(ctx, err) {
		if workflow.GetVersion(ctx, decisionVersion, workflow.DefaultVersion, 1) < 1 {
			return err, false
		}
		w, werr := r.awaitDecision(ctx, sc, s, st, err)
		if werr != nil {
			return werr, false
		}
		d := w.decided
		switch d.Action {
		case plan.DecideSkip:
			now := workflow.Now(ctx)
			st.Status, st.EndedAt, st.Outputs = StatusSkipped, &now, d.Outputs
			w.acted = true
			return nil, true
		case plan.DecideRetry:
			st.Status, st.Error, st.ErrorType, st.EndedAt = StatusRunning, "", "", nil
			w.acted = true
			err = r.dispatch(ctx, sc, withInputs(s, d.Inputs), st)
		default:
			st.Status = StatusFailed
			w.acted = true
			return err, false
		}
	}
	return err, false
}

// withInputs is s with a retry's inputs in place of its with values.
func withInputs(s *plan.Step, inputs map[string]any) *plan.Step {
	if len(inputs) == 0 {
		return s
	}
	c := *s
	c.With = make(map[string]*plan.Value, len(s.With)+len(inputs))
	for k, v := range s.With { // building a map: order does not matter
		c.With[k] = v
	}
	for k, v := range inputs { // building a map: order does not matter
		c.With[k] = plan.LitValue(v)
	}
	return &c
}

// awaitDecision parks the failed step until a decision, or its timeout
// (a fail decision by system:timeout), or the run's cancellation.
func (r *run) awaitDecision(ctx workflow.Context, sc *scope, s *plan.Step, st *StepState, err error) (*decisionWait, error) {
	pol := s.OnStepFailure
	vars := r.vars(sc)
	timeout, terr := r.ev.Duration(pol.Timeout, vars)
	if terr != nil {
		return nil, &stepError{step: s.ID, typ: ErrExpression, message: "onStepFailure.timeout: " + terr.Error()}
	}
	if pol.Message != nil {
		if x, merr := r.ev.Render(pol.Message, vars); merr == nil {
			st.Message = plan.Text(x)
		}
	}
	se := r.asStepError(err, false)
	now := workflow.Now(ctx)
	st.Status, st.Error, st.ErrorType, st.EndedAt, st.Deciders = StatusWaitingDecision, se.message, se.typ, &now, pol.Deciders
	key := approvalKey(s.ID, st.Item)
	w := &decisionWait{step: s, state: st, deciders: pol.Deciders}
	r.decisions[key] = w
	r.deciding++
	r.status.Status = RunWaitingDecision
	defer func() {
		delete(r.decisions, key)
		if r.deciding--; r.deciding == 0 && r.status.Status == RunWaitingDecision {
			r.status.Status = RunRunning
		}
	}()
	r.logger(ctx).Warn("step failed; waiting for a decision", "step", key, "errorType", se.typ, "error", se.message, "deciders", pol.Deciders)
	decided := func() bool { return w.decided != nil }
	defer r.announce(ctx, sc, s, pol.Notify, pol.RemindEvery, "decision", RunPath(r.status.RunID), func() bool { return !decided() })()
	if timeout > 0 {
		ok, aerr := workflow.AwaitWithTimeout(ctx, timeout, decided)
		if aerr != nil {
			return nil, aerr
		}
		if !ok {
			w.decided = &Decision{User: DecisionTimeoutUser, Action: plan.DecideFail, At: workflow.Now(ctx),
				Comment: fmt.Sprintf("no decision within %s", timeout)}
			st.Decisions = append(st.Decisions, *w.decided)
		}
		return w, nil
	}
	if aerr := workflow.Await(ctx, decided); aerr != nil {
		return nil, aerr
	}
	return w, nil
}

// validateDecision refuses, without touching state, a decision that may
// not be taken: unsealed, forged or replayed, not waited for, not by a
// decider, or with outputs or inputs that do not fit.
func (r *run) validateDecision(ctx workflow.Context, req DecisionRequest) error {
	req, err := r.checkDecision(ctx, req)
	if err != nil {
		return err
	}
	key := approvalKey(req.Step, req.Item)
	w := r.decisions[key]
	switch {
	case req.User == "":
		return temporal.NewApplicationError("the decision has no user", DecisionInvalid)
	case !slices.Contains(plan.DecisionActions, req.Action):
		return temporal.NewApplicationError(fmt.Sprintf("action %q: want retry, skip or fail", req.Action), DecisionInvalid)
	case w == nil || w.decided != nil:
		return temporal.NewApplicationError(fmt.Sprintf("step %s is not waiting for a decision; %s", key, r.waitingDecisions()), DecisionNotWaiting)
	case len(w.deciders) > 0 && !eligible(w.deciders, req.User, req.Groups):
		return temporal.NewApplicationError(fmt.Sprintf("%s is not a decider of step %s", req.User, key), DecisionNotDecider)
	}
	if probs := DecisionProblems(w.step, req.Action, req.Outputs, req.Inputs); len(probs) > 0 {
		return temporal.NewApplicationError("the decision does not fit step "+key+": "+strings.Join(probs, "; "), DecisionInvalid, probs)
	}
	return nil
}

// DecisionProblems lists what is wrong with a decision's outputs and
// inputs for step s: outputs only with skip, checked against the step's
// declared outputs; inputs only with retry of an action (the API checks
// their types against the action's spec, which the run does not hold).
func DecisionProblems(s *plan.Step, action plan.DecisionAction, outputs, inputs map[string]any) []string {
	var out []string
	if len(outputs) > 0 {
		switch {
		case action != plan.DecideSkip:
			out = append(out, "outputs are given only with skip")
		case s.Outputs == nil:
			out = append(out, fmt.Sprintf("step %s has no outputs", s.ID))
		default:
			var probs []plan.ValueProblem
			plan.CoerceProblems(outputs, s.Outputs, "outputs", &probs)
			for _, p := range probs {
				out = append(out, string(p.Sub)+": "+p.Msg)
			}
		}
	}
	if len(inputs) > 0 {
		switch {
		case action != plan.DecideRetry:
			out = append(out, "inputs are given only with retry")
		case s.Kind != plan.StepAction:
			out = append(out, fmt.Sprintf("step %s is a %s step: only an action's inputs can change", s.ID, s.Kind))
		}
	}
	return out
}

// decide records a validated decision; the step acts on it, and the
// Update answers with the entry once it has (retrying, skipped, failed).
func (r *run) decide(ctx workflow.Context, req DecisionRequest) (StepState, error) {
	req = r.acceptDecision(ctx, req)
	w := r.decisions[approvalKey(req.Step, req.Item)]
	d := Decision{User: req.User, Action: req.Action, Comment: req.Comment, At: workflow.Now(ctx), Inputs: req.Inputs}
	if req.Action == plan.DecideSkip {
		d.Outputs = map[string]any{}
		if len(req.Outputs) > 0 && w.step.Outputs != nil {
			if x, ok := plan.CoerceProblems(req.Outputs, w.step.Outputs, "", new([]plan.ValueProblem)).(map[string]any); ok {
				d.Outputs = x
			}
		}
	}
	w.decided = &d
	w.state.Decisions = append(w.state.Decisions, d)
	if err := workflow.Await(ctx, func() bool { return w.acted }); err != nil {
		return *w.state, err
	}
	return *w.state, nil
}

// waitingDecisions says which steps wait for a decision, in key order.
func (r *run) waitingDecisions() string {
	var keys []string
	for _, k := range plan.SortedKeys(r.decisions) {
		if r.decisions[k].decided == nil {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return "no step is waiting for a decision"
	}
	return "waiting: " + strings.Join(keys, ", ")
}

// checkDecision verifies a decision's seal, as checkVote.
func (r *run) checkDecision(ctx workflow.Context, req DecisionRequest) (DecisionRequest, error) {
	if !r.signed() {
		return req, nil
	}
	var body SignedDecision
	if err := r.check(ctx, req.Seal, attest.KindDecision, &body); err != nil {
		return DecisionRequest{}, err
	}
	return body.DecisionRequest, nil
}

// acceptDecision is acceptVote for decisions.
func (r *run) acceptDecision(ctx workflow.Context, req DecisionRequest) DecisionRequest {
	if !r.signed() {
		return req
	}
	var body SignedDecision
	_ = attest.Decode(req.Seal, &body)
	r.remember(ctx, body.Nonce)
	return body.DecisionRequest
}
