// Package workflows is the deterministic interpreter of compiled runbook
// plans. RunbookWorkflow runs one plan durably on Temporal: every step is
// an activity, a timer, a child workflow or a wait; approvals are Updates,
// events are signals, and the status query returns the timeline. Nothing
// here does I/O or reads the wall clock.
package workflows

import (
	"errors"
	"fmt"
	"time"

	"github.com/opsrunbook/runbook/plan"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Names clients use to talk to a run.
const (
	WorkflowName  = "RunbookWorkflow"
	QueryStatus   = "status"
	UpdateApprove = "approve"
	UpdateEvent   = "event"
	SignalEvent   = "event" // runs started before seals take events as signals
)

// Defaults of the interpreter.
const (
	DefaultActionTimeout = time.Hour
	HeartbeatTimeout     = 15 * time.Second // for actions that heartbeat (every 5 s)
	MaxWorkerLosses      = 3                // times an action is run again after its worker died
	MaxForEachItems      = plan.MaxListItems
)

// Error types of run failures.
const (
	ErrAssertion       = "AssertionFailed"
	ErrApprovalReject  = "ApprovalRejected"
	ErrApprovalTimeout = "ApprovalTimeout"
	ErrEventTimeout    = "EventTimeout"
	ErrRepeatTimeout   = "RepeatTimeout"
	ErrRunTimeout      = "Timeout"
	ErrExpression      = "ExpressionError"
	ErrBadPlan         = "BadPlan"
	ErrForEachBudget   = "ForEachBudgetExceeded"
	ErrCancelled       = "Cancelled"
	// ErrFrozen is a sub-runbook step a change freeze held back.
	ErrFrozen = "Frozen"
)

// RunInput starts a run. Params must already be bound (Plan.BindParams).
type RunInput struct {
	Plan        *plan.Plan      `json:"plan"`
	Params      map[string]any  `json:"params"`
	Trigger     plan.RunTrigger `json:"trigger"`
	TriggeredBy string          `json:"triggeredBy"` // what triggered it: a user, alert fingerprint, schedule, hook or parent run
	// StartedBy is the authenticated caller who started the run (a user,
	// or system:schedule / system:webhook); children inherit it. Votes are
	// compared with it: the starter may not approve.
	StartedBy string `json:"startedBy,omitempty"`
	// VoteKey is the API's Ed25519 public key (hex): the run takes only
	// votes and events the API sealed with it.
	VoteKey string `json:"voteKey,omitempty"`
	Version int    `json:"version"`
	// StartedAt is run.startedAt: when the API recorded the run, the time
	// its concurrency key saw. Unset (schedules, sub-runbooks, runs started
	// before it was sent): the workflow's start time.
	StartedAt *time.Time `json:"startedAt,omitempty"`
	// LocalActions runs actions whose spec is Local (log) as local
	// activities: no task queue round trip, fewer history events.
	LocalActions bool `json:"localActions,omitempty"`
	// HistoryBudget is the history length after which a long loop hands
	// the run over to a new execution (0: DefaultHistoryBudget).
	HistoryBudget int `json:"historyBudget,omitempty"`
	// Resume is the state a previous execution of the run handed over
	// (gzipped JSON); empty when the run starts.
	Resume []byte `json:"resume,omitempty"`
	// Rerun is set when the run reruns a recorded one: what it reruns, and
	// the entries it reuses instead of running their steps.
	Rerun *Rerun `json:"rerun,omitempty"`
	// Blackouts are the freeze windows over this runbook and its
	// sub-runbooks (computed by the server): a schedule's fire inside one
	// starts no run, and a sub-runbook step inside one fails (Frozen).
	Blackouts []plan.Blackout `json:"blackouts,omitempty"`
	// Incident is the incident the run was started for (run.incident), 0
	// for none.
	Incident uint `json:"incident,omitempty"`
}

// RunResult is what a finished run returns.
type RunResult struct {
	Status      string         `json:"status"`
	Outputs     map[string]any `json:"outputs,omitempty"`
	ExitMessage string         `json:"exitMessage,omitempty"`
	// Skipped is set by a schedule's launcher whose fire a freeze held
	// back: it started no run.
	Skipped *Skip `json:"skipped,omitempty"`
}

// Skip is a schedule fire that started no run.
type Skip struct {
	Freeze string    `json:"freeze"`
	Reason string    `json:"reason"`
	Fire   time.Time `json:"fire"`
	Until  time.Time `json:"until"`
}

// RunSkipped is the status a launcher returns for a skipped fire.
const RunSkipped = "skipped"

// RunbookWorkflow interprets a plan. It returns the run's outputs, or an
// ApplicationError (type of the first failure) whose details are the
// final Status.
func RunbookWorkflow(ctx workflow.Context, in RunInput) (*RunResult, error) {
	r, err := newRun(ctx, in)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), ErrBadPlan, nil)
	}
	if r.final {
		return r.ended()
	}
	return r.execute(ctx)
}

// stepError is a step's failure, with the type that error.type shows.
type stepError struct {
	step    string
	typ     string
	message string
}

func (e *stepError) Error() string { return fmt.Sprintf("step %s: %s", e.step, e.message) }

// exitRun ends the main steps successfully.
type exitRun struct{ message string }

func (e *exitRun) Error() string { return "exit: " + e.message }

func (r *run) execute(ctx workflow.Context) (*RunResult, error) {
	if r.resume == nil {
		if se := r.preflight(ctx); se != nil {
			return r.refuse(ctx, se)
		}
	}
	mainCtx, cancelMain := workflow.WithCancel(ctx)
	timedOut := false
	if !r.plan.Timeout.IsZero() {
		var d time.Duration
		if r.resume != nil { // the deadline the run started with
			d = max(r.deadline.Sub(workflow.Now(ctx)), time.Nanosecond)
		} else {
			var err error
			if d, err = r.ev.Duration(r.plan.Timeout, r.vars(r.root)); err != nil {
				cancelMain()
				return r.finish(ctx, &stepError{step: "", typ: ErrExpression, message: "spec.timeout: " + err.Error()})
			}
			r.deadline = workflow.Now(ctx).Add(d)
		}
		timerCtx, cancelTimer := workflow.WithCancel(ctx)
		defer cancelTimer()
		workflow.Go(timerCtx, func(c workflow.Context) {
			if workflow.NewTimer(c, d).Get(c, nil) == nil {
				timedOut = true
				cancelMain()
			}
		})
	}
	err := r.list(mainCtx, r.root, r.plan.Steps)
	cancelMain()
	if h, ok := err.(*handOver); ok && !timedOut {
		return r.continueAsNew(ctx, h)
	}
	if err != nil && timedOut {
		err = &stepError{step: r.current, typ: ErrRunTimeout, message: fmt.Sprintf("the run exceeded its timeout of %s", r.plan.Timeout)}
	}
	return r.finish(ctx, err)
}

// finish runs what follows the main steps: on failure, compensations and
// onFailure; always, finally. Cleanup runs in a context a cancellation of
// the run does not cancel.
func (r *run) finish(ctx workflow.Context, err error) (*RunResult, error) {
	cancelled := ctx.Err() != nil && errors.Is(ctx.Err(), workflow.ErrCanceled)
	cleanup, cancelCleanup := workflow.NewDisconnectedContext(ctx)
	defer cancelCleanup()
	var exit *exitRun
	if errors.As(err, &exit) {
		r.status.ExitMessage = exit.message
		err = nil
	}
	if err != nil {
		se := r.asStepError(err, cancelled)
		r.status.Error, r.status.ErrorType, r.status.FailedStep = se.message, se.typ, se.step
		r.compensate(cleanup)
		if !cancelled {
			errScope := newScope(r.root)
			errScope.vars[plan.VarError] = plan.ErrorValue(se.step, se.message, se.typ)
			if ferr := r.list(cleanup, errScope, r.plan.OnFailure); ferr != nil {
				r.logger(ctx).Error("onFailure failed", "error", ferr)
			}
		}
	}
	if ferr := r.list(cleanup, r.root, r.plan.Finally); ferr != nil && err == nil {
		err = ferr
		se := r.asStepError(ferr, false)
		r.status.Error, r.status.ErrorType, r.status.FailedStep = se.message, se.typ, se.step
	}
	now := workflow.Now(ctx)
	r.status.EndedAt = &now
	switch {
	case cancelled:
		r.status.Status = RunCancelled
		r.markUnfinished(StatusCancelled, now)
		return nil, temporal.NewCanceledError(r.status)
	case err != nil:
		r.status.Status = RunFailed
		r.markUnfinished(StatusCancelled, now)
		return r.end(ctx, nil, temporal.NewNonRetryableApplicationError(r.status.Error, r.status.ErrorType, nil, r.status))
	}
	outputs, oerr := r.outputs()
	if oerr != nil {
		r.status.Status, r.status.Error, r.status.ErrorType = RunFailed, oerr.Error(), ErrExpression
		return r.end(ctx, nil, temporal.NewNonRetryableApplicationError(oerr.Error(), ErrExpression, nil, r.status))
	}
	r.status.Status, r.status.Outputs = RunSucceeded, outputs
	return r.end(ctx, &RunResult{Status: RunSucceeded, Outputs: outputs, ExitMessage: r.status.ExitMessage}, nil)
}

// end returns the run's result, or after a long history hands it to a
// last short execution (closeShort).
func (r *run) end(ctx workflow.Context, res *RunResult, err error) (*RunResult, error) {
	if r.closeShort(ctx) {
		return r.handOverEnd(ctx, res, err)
	}
	return res, err
}

// asStepError turns any failure into a typed step error.
func (r *run) asStepError(err error, cancelled bool) *stepError {
	var se *stepError
	switch {
	case errors.As(err, &se):
		return se
	case cancelled || temporal.IsCanceledError(err):
		return &stepError{step: r.current, typ: ErrCancelled, message: "the run was cancelled"}
	}
	return &stepError{step: r.current, typ: "Error", message: err.Error()}
}

// outputs evaluates spec.outputs.
func (r *run) outputs() (map[string]any, error) {
	if len(r.plan.Outputs) == 0 {
		return nil, nil
	}
	out := map[string]any{}
	vars := r.vars(r.root)
	for _, o := range r.plan.Outputs {
		v, err := r.ev.Eval(o.Expr, vars)
		if err != nil {
			return nil, fmt.Errorf("output %s: %w", o.Name, err)
		}
		out[o.Name] = plan.JSONValue(v)
	}
	return out, nil
}

// markUnfinished closes entries left running or waiting, as of now. It
// runs once the run has ended, when no expression reads steps again.
func (r *run) markUnfinished(status string, now time.Time) {
	for _, st := range r.timeline {
		switch st.Status {
		case StatusRunning, StatusWaitingApproval, StatusWaitingEvent, StatusWaitingDecision:
			st.Status = status
			if st.EndedAt == nil {
				st.EndedAt = &now
			}
		}
	}
}
