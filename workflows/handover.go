package workflows

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/opsrunbook/runbook/plan"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Temporal ends a workflow execution at 51,200 history events. A long
// loop (a forEach, a repeat) on the main path of a run hands over before:
// once the execution's history passes its budget, the loop stops at a
// point where nothing is in flight and the run continues as new, carrying
// the interpreter's state in RunInput.Resume. The workflow id, and so the
// run id, stays. See docs/execution.md.

// DefaultHistoryBudget is the history length after which a long loop hands
// over to a new execution, when RunInput.HistoryBudget is 0.
const DefaultHistoryBudget = plan.HistoryBudget

// handoverVersion guards the hand-over: runs recorded before it never
// hand over, so their histories replay.
const handoverVersion = "handover"

// handOver is the error a loop returns, through the steps enclosing it, to
// make the run continue as new.
type handOver struct{ loop carriedLoop }

func (h *handOver) Error() string { return "hand over to a new execution at step " + h.loop.Step }

// carried is what one execution hands the next, gzipped JSON in
// RunInput.Resume.
type carried struct {
	StartedAt     time.Time      `json:"startedAt"`
	Deadline      *time.Time     `json:"deadline,omitempty"` // of spec.timeout
	Current       string         `json:"current,omitempty"`
	Handovers     int            `json:"handovers"`
	Timeline      []StepState    `json:"timeline"`
	Vars          map[string]any `json:"vars"` // plan.EncodeVars
	Scopes        []carriedScope `json:"scopes"`
	Compensations []carriedComp  `json:"compensations,omitempty"`
	Events        []Event        `json:"events,omitempty"` // not yet taken
	Nonces        []carriedNonce `json:"nonces,omitempty"`
	Loop          carriedLoop    `json:"loop"`
	// Final is the status of a run that has ended, handed to a last short
	// execution so that reading the closed run replays a few events.
	Final *Status           `json:"final,omitempty"`
	Waits []carriedApproval `json:"approvals,omitempty"`
}

// carriedScope is a scope: states as timeline indexes, vars encoded. Scope
// 0 is the run's; the others are forEach items that compensations need.
type carriedScope struct {
	Parent int            `json:"parent"` // -1 for the run's scope
	Vars   map[string]any `json:"vars,omitempty"`
	States map[string]int `json:"states"`
}

type carriedComp struct {
	Step  string `json:"step"`
	Scope int    `json:"scope"`
	State int    `json:"state"`
}

type carriedNonce struct {
	Nonce string    `json:"nonce"`
	At    time.Time `json:"at"`
}

// carriedApproval is a decided approval, so that a vote on it after the
// hand-over is refused as before (not waiting).
type carriedApproval struct {
	Key      string        `json:"key"`
	Step     string        `json:"step"`
	State    int           `json:"state"`
	Decision plan.Decision `json:"decision"`
}

// carriedLoop is the loop that handed over and where it stopped.
type carriedLoop struct {
	Step    string           `json:"step"`
	ForEach *forEachProgress `json:"forEach,omitempty"`
	Repeat  *repeatProgress  `json:"repeat,omitempty"`
}

// forEachProgress is a forEach stopped between items: every item before
// Next has finished.
type forEachProgress struct {
	Items     []any         `json:"items"` // plan.EncodeVars of each
	Next      int           `json:"next"`
	Width     int           `json:"width"`
	Batch     int           `json:"batch"`
	Allowed   int           `json:"allowed"`
	Succeeded int           `json:"succeeded"`
	Failed    int           `json:"failed"`
	Results   []any         `json:"results"`
	FirstErr  *carriedError `json:"firstError,omitempty"`
}

type carriedError struct {
	Step    string `json:"step"`
	Type    string `json:"type"`
	Message string `json:"message"`
}

// repeatProgress is a repeat stopped between attempts.
type repeatProgress struct {
	Deadline time.Time     `json:"deadline"` // zero: no timeout
	Limit    time.Duration `json:"limit"`
	NextAt   time.Time     `json:"nextAt"` // when the next attempt starts
}

// resumableSteps are the steps a hand-over can resume inside: the main
// steps and the steps of groups among them, which run one at a time in
// the run's scope. A loop inside a parallel branch, a forEach body,
// onFailure, finally or a compensation does not hand over.
func resumableSteps(steps []*plan.Step, out map[string]bool) map[string]bool {
	for _, s := range steps {
		out[s.ID] = true
		if s.Kind == plan.StepGroup {
			resumableSteps(s.Steps, out)
		}
	}
	return out
}

// overBudget reports whether the loop s should hand over now.
func (r *run) overBudget(ctx workflow.Context, s *plan.Step) bool {
	budget := r.in.HistoryBudget
	if budget <= 0 {
		budget = DefaultHistoryBudget
	}
	if !r.resumable[s.ID] || r.historyLength(ctx) < budget {
		return false
	}
	if r.handover == 0 {
		r.handover = 1
		if workflow.GetVersion(ctx, handoverVersion, workflow.DefaultVersion, 1) >= 1 {
			r.handover = 2
		}
	}
	return r.handover == 2
}

// historyLength is the execution's history length as of the last workflow
// task, plus a marker for each local action completed since: a workflow
// task that runs local actions writes their markers only when it
// completes, so GetCurrentHistoryLength alone misses them (a forEach of
// local log steps can run thousands in one task).
func (r *run) historyLength(ctx workflow.Context) int {
	r.countLocal(ctx, 0)
	return r.lengthSeen + r.localsSince
}

// countLocal adds n local actions completed in the current workflow task.
func (r *run) countLocal(ctx workflow.Context, n int) {
	if l := workflow.GetInfo(ctx).GetCurrentHistoryLength(); l != r.lengthSeen {
		r.lengthSeen, r.localsSince = l, 0
	}
	r.localsSince += n
}

// takeLoop returns the progress the previous execution carried for loop
// id, once; the steps before it are then done.
func (r *run) takeLoop(id string) *carriedLoop {
	if r.resume == nil || r.resume.Step != id {
		return nil
	}
	l := r.resume
	r.resume = nil
	return l
}

// continueAsNew ends this execution and starts the next with the state.
func (r *run) continueAsNew(ctx workflow.Context, h *handOver) (*RunResult, error) {
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return nil, err
	}
	state, err := r.carry(h.loop, nil)
	if err != nil {
		return r.finish(ctx, &stepError{step: h.loop.Step, typ: ErrBadPlan, message: "hand-over: " + err.Error()})
	}
	next := r.in
	next.Resume = state
	return nil, workflow.NewContinueAsNewError(ctx, WorkflowName, next)
}

// A query of a closed run replays its last execution on a worker, at a
// cost that grows with its history and its loop's concurrency (seconds for
// a 10,000-event forEach of 100 at a time). A run that ended with a long
// history hands its final state to a last execution that ends at once.

// closeShort reports whether the run, ended, should hand over its final
// state: its history passed a twentieth of the budget.
func (r *run) closeShort(ctx workflow.Context) bool {
	budget := r.in.HistoryBudget
	if budget <= 0 {
		budget = DefaultHistoryBudget
	}
	if r.historyLength(ctx) < budget/20 {
		return false
	}
	return workflow.GetVersion(ctx, "final-handover", workflow.DefaultVersion, 1) >= 1 &&
		workflow.AllHandlersFinished(ctx)
}

// handOverEnd starts the last execution with the final state; if the state
// cannot be carried, the run ends here as it would have.
func (r *run) handOverEnd(ctx workflow.Context, res *RunResult, err error) (*RunResult, error) {
	final := *r.status
	state, cerr := r.carry(carriedLoop{}, &final)
	if cerr != nil {
		return res, err
	}
	next := r.in
	next.Resume = state
	return nil, workflow.NewContinueAsNewError(ctx, WorkflowName, next)
}

// ended is the end of the last, short execution: the result the run had.
func (r *run) ended() (*RunResult, error) {
	if r.status.Status == RunSucceeded {
		return &RunResult{Status: RunSucceeded, Outputs: r.status.Outputs, ExitMessage: r.status.ExitMessage}, nil
	}
	return nil, temporal.NewNonRetryableApplicationError(r.status.Error, r.status.ErrorType, nil, r.status)
}

// carry encodes the run's state for the next execution.
func (r *run) carry(loop carriedLoop, final *Status) ([]byte, error) {
	index := make(map[*StepState]int, len(r.timeline))
	c := carried{StartedAt: r.status.StartedAt, Current: r.current, Handovers: r.status.Handovers + 1,
		Vars: plan.EncodeVars(r.varsVar), Loop: loop, Timeline: make([]StepState, len(r.timeline)), Final: final}
	if final != nil {
		final.Handovers = c.Handovers
	}
	if !r.deadline.IsZero() {
		d := r.deadline
		c.Deadline = &d
	}
	for i, st := range r.timeline {
		index[st] = i
		c.Timeline[i] = *st
	}
	scopes := map[*scope]int{}
	var addScope func(sc *scope) int
	addScope = func(sc *scope) int {
		if sc == nil {
			return -1
		}
		if i, ok := scopes[sc]; ok {
			return i
		}
		parent := addScope(sc.parent)
		cs := carriedScope{Parent: parent, Vars: plan.EncodeVars(sc.vars), States: map[string]int{}}
		for _, id := range plan.SortedKeys(sc.states) {
			if i, ok := index[sc.states[id]]; ok {
				cs.States[id] = i
			}
		}
		scopes[sc] = len(c.Scopes)
		c.Scopes = append(c.Scopes, cs)
		return scopes[sc]
	}
	addScope(r.root)
	for _, cp := range r.compensations {
		i, ok := index[cp.state]
		if !ok {
			return nil, fmt.Errorf("compensation of %s is not in the timeline", cp.step.ID)
		}
		c.Compensations = append(c.Compensations, carriedComp{Step: cp.step.ID, Scope: addScope(cp.scope), State: i})
	}
	for _, k := range plan.SortedKeys(r.approvals) {
		w := r.approvals[k]
		if i, ok := index[w.state]; ok && w.decision != plan.DecisionPending {
			c.Waits = append(c.Waits, carriedApproval{Key: k, Step: w.step.ID, State: i, Decision: w.decision})
		}
	}
	for _, e := range r.events {
		if !e.used {
			c.Events = append(c.Events, e)
		}
	}
	for _, n := range r.nonces {
		c.Nonces = append(c.Nonces, carriedNonce{Nonce: n.nonce, At: n.at})
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(c); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// restore takes over the state the previous execution carried.
func (r *run) restore(state []byte) error {
	zr, err := gzip.NewReader(bytes.NewReader(state))
	if err != nil {
		return err
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		return err
	}
	var c carried
	if err := json.Unmarshal(b, &c); err != nil {
		return err
	}
	if len(c.Scopes) == 0 {
		return fmt.Errorf("no scopes")
	}
	steps := map[string]*plan.Step{}
	for s := range r.plan.All() {
		steps[s.ID] = s
	}
	r.timeline = make([]*StepState, len(c.Timeline))
	for i := range c.Timeline {
		st := c.Timeline[i]
		if s := steps[st.ID]; s != nil {
			st.outType = s.Outputs
			if s.Kind == plan.StepForEach && st.Outputs != nil {
				st.Outputs = forEachOutputs(st.Outputs)
			}
		}
		r.timeline[i] = &st
	}
	at := func(i int) (*StepState, error) {
		if i < 0 || i >= len(r.timeline) {
			return nil, fmt.Errorf("timeline index %d out of range", i)
		}
		return r.timeline[i], nil
	}
	scopes := make([]*scope, len(c.Scopes))
	for i, cs := range c.Scopes { // parents come first
		var parent *scope
		if cs.Parent >= 0 && cs.Parent < i {
			parent = scopes[cs.Parent]
		}
		sc := newScope(parent)
		vars, err := plan.DecodeVars(cs.Vars)
		if err != nil {
			return err
		}
		sc.vars = vars
		for _, id := range plan.SortedKeys(cs.States) {
			if sc.states[id], err = at(cs.States[id]); err != nil {
				return err
			}
		}
		scopes[i] = sc
	}
	r.root = scopes[0]
	vars, err := plan.DecodeVars(c.Vars)
	if err != nil {
		return err
	}
	r.varsVar = vars
	for _, cp := range c.Compensations {
		s := steps[cp.Step]
		st, err := at(cp.State)
		if s == nil || err != nil || cp.Scope < 0 || cp.Scope >= len(scopes) {
			return fmt.Errorf("compensation of %s does not match the plan", cp.Step)
		}
		r.compensations = append(r.compensations, compensation{step: s, scope: scopes[cp.Scope], state: st})
	}
	for _, w := range c.Waits {
		s := steps[w.Step]
		st, err := at(w.State)
		if s == nil || err != nil {
			return fmt.Errorf("approval %s does not match the plan", w.Key)
		}
		r.approvals[w.Key] = &approvalWait{step: s, state: st, decision: w.Decision, votes: st.Votes}
	}
	r.events = c.Events
	for _, n := range c.Nonces {
		r.nonces = append(r.nonces, seen{nonce: n.Nonce, at: n.At})
	}
	r.current = c.Current
	if c.Deadline != nil {
		r.deadline = *c.Deadline
	}
	r.status.StartedAt, r.status.Handovers = c.StartedAt, c.Handovers
	r.runVar["startedAt"] = c.StartedAt
	if c.Final != nil {
		final := *c.Final
		final.RunID = r.status.RunID
		r.status, r.final = &final, true
		return nil
	}
	loop := c.Loop
	r.resume = &loop
	return nil
}

// forEachOutputs gives a forEach's counts back the int type JSON lost.
func forEachOutputs(out map[string]any) map[string]any {
	for _, k := range []string{"succeeded", "failed"} {
		if f, ok := out[k].(float64); ok {
			out[k] = int64(f)
		}
	}
	return out
}

// carriedItems encodes a forEach's items for the next execution.
func carriedItems(items []any) []any {
	out := make([]any, len(items))
	for i, x := range items {
		out[i] = plan.EncodeVars(map[string]any{"x": x})["x"]
	}
	return out
}

func restoredItems(items []any) ([]any, error) {
	out := make([]any, len(items))
	for i, x := range items {
		v, err := plan.DecodeVars(map[string]any{"x": x})
		if err != nil {
			return nil, fmt.Errorf("item %d: %w", i, err)
		}
		out[i] = v["x"]
	}
	return out, nil
}
