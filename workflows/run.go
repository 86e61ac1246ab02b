package workflows

import (
	"fmt"
	"time"

	"github.com/opsrunbook/runbook/plan"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/workflow"
)

// run is the state of one execution of a plan.
type run struct {
	plan     *plan.Plan
	in       RunInput
	ev       *plan.Evaluator
	params   map[string]any
	runVar   map[string]any
	varsVar  map[string]any
	root     *scope
	timeline []*StepState
	status   *Status
	current  string // the step that started last, for timeout and cancel errors

	compensations []compensation
	approvals     map[string]*approvalWait // by approvalKey
	decisions     map[string]*decisionWait // by approvalKey: failed steps waiting
	deciding      int                      // how many steps wait for a decision
	events        []Event
	nonces        []seen // of accepted seals

	resumable map[string]bool // steps a hand-over can resume inside
	handover  int             // 0 not asked, 1 off (an older run), 2 on
	resume    *carriedLoop    // the loop to resume, until it resumes
	deadline  time.Time       // of spec.timeout, once known
	final     bool            // the run has ended; this execution only tells how

	lengthSeen, localsSince int // see historyLength

	reuse map[reuseKey]*Reused // a rerun's recorded entries (reuse.go)
}

// compensation is a completed step to undo if the run fails.
type compensation struct {
	step  *plan.Step
	scope *scope
	state *StepState
}

func newRun(ctx workflow.Context, in RunInput) (*run, error) {
	p := in.Plan
	if p == nil {
		return nil, fmt.Errorf("no plan")
	}
	if p.Version < plan.MinVersion || p.Version > plan.Version {
		return nil, fmt.Errorf("plan version %d; this worker runs versions %d to %d", p.Version, plan.MinVersion, plan.Version)
	}
	ev, err := plan.NewEvaluator(p)
	if err != nil {
		return nil, err
	}
	ev.SetClock(func() time.Time { return workflow.Now(ctx) })
	info := workflow.GetInfo(ctx)
	startedAt := info.WorkflowStartTime
	if in.StartedAt != nil {
		startedAt = *in.StartedAt
	}
	r := &run{
		plan:   p,
		in:     in,
		ev:     ev,
		params: p.ParamVars(in.Params),
		runVar: plan.RunVars{ID: info.WorkflowExecution.ID, Name: p.Name, Version: in.Version, Trigger: in.Trigger,
			TriggeredBy: in.TriggeredBy, StartedBy: in.startedBy(), StartedAt: startedAt,
			Incident: in.Incident}.Value(),
		varsVar:   map[string]any{},
		root:      newScope(nil),
		approvals: map[string]*approvalWait{},
		decisions: map[string]*decisionWait{},
		status:    &Status{RunID: info.WorkflowExecution.ID, Runbook: p.Name, Status: RunRunning, StartedAt: startedAt},
	}
	r.declarePlan(p)
	r.resumable = resumableSteps(p.Steps, map[string]bool{})
	if err := r.loadReuse(); err != nil {
		return nil, err
	}
	if len(in.Resume) > 0 {
		if err := r.restore(in.Resume); err != nil {
			return nil, fmt.Errorf("resume: %w", err)
		}
	}
	if err := workflow.SetQueryHandler(ctx, QueryStatus, r.query); err != nil {
		return nil, err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateApprove, r.vote,
		workflow.UpdateHandlerOptions{Validator: r.validateVote}); err != nil {
		return nil, err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateDecide, r.decide,
		workflow.UpdateHandlerOptions{Validator: r.validateDecision}); err != nil {
		return nil, err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateEvent, r.postEvent,
		workflow.UpdateHandlerOptions{Validator: r.validateEvent}); err != nil {
		return nil, err
	}
	r.listenForEvents(ctx)
	if r.resume != nil { // vars came with the state
		return r, nil
	}
	for _, v := range p.Vars {
		x, err := ev.Eval(v.Expr, r.vars(r.root))
		if err != nil {
			return nil, fmt.Errorf("vars.%s: %w", v.Name, err)
		}
		r.varsVar[v.Name] = x
	}
	return r, nil
}

// declare adds pending timeline entries for steps in sc. Loop bodies are
// declared per item when the item starts, onError and compensation steps
// when they run. Phase only describes the entries: no expression reads
// it, so runs recorded before it replay the same.
func (r *run) declare(sc *scope, steps []*plan.Step, loop string, item *int, phase string) []*StepState {
	var out []*StepState
	for _, s := range steps {
		st := &StepState{ID: s.ID, Kind: string(s.Kind), Status: StatusPending, Loop: loop, Item: item, Phase: phase, outType: s.Outputs}
		sc.states[s.ID] = st
		r.timeline = append(r.timeline, st)
		out = append(out, st)
		for _, sec := range s.Children() {
			if sec.Runs == plan.RunsInline {
				out = append(out, r.declare(sc, sec.Steps, loop, item, phase)...)
			}
		}
	}
	return out
}

// vars is what expressions evaluated in sc read.
func (r *run) vars(sc *scope) plan.Vars {
	v := plan.Vars{plan.VarParams: r.params, plan.VarRun: r.runVar, plan.VarVars: r.varsVar, plan.VarSteps: sc.stepsVar()}
	for s := sc; s != nil; s = s.parent {
		for k, x := range s.vars { // building a map: order does not matter
			if _, inner := v[k]; !inner {
				v[k] = x
			}
		}
	}
	return v
}

func (r *run) logger(ctx workflow.Context) log.Logger { return workflow.GetLogger(ctx) }
