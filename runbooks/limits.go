package runbooks

import (
	"encoding/json"
	"fmt"

	"github.com/opsrunbook/runbook/plan"
)

// Temporal ends an execution at plan.HistoryLimit events and refuses
// payloads over plan.MaxPayloadBytes. checkLimits estimates, on the
// compiled plan, the history each loop writes and reports the loops that
// pass one execution's budget (a warning: the engine hands over to a new
// execution) or that pass the limit where no hand-over is possible (an
// error), and refuses a plan too large to start.

// History events of one run of each kind of step, as the API runs them
// (local actions local): a workflow task is 3 events (scheduled, started,
// completed), an activity 3 more, a timer 2, a child workflow 3, a local
// activity's marker 1, an Update 2.
const (
	eventsWorkflowTask = 3
	eventsActivity     = 3 + eventsWorkflowTask
	eventsLocal        = 1
	eventsTimer        = 2 + eventsWorkflowTask
	eventsChild        = 3 + eventsWorkflowTask
	eventsApproval     = 2 + eventsWorkflowTask
	eventsWaitFor      = 2 + eventsWorkflowTask
)

// events is an estimate of a step's history events; bounded is false when
// it depends on what only the run knows (a list's length, a repeat without
// a timeout).
type events struct {
	n       int
	bounded bool
}

func (e events) add(o events) events { return events{e.n + o.n, e.bounded && o.bounded} }

// limitChecker walks a plan with an evaluator for constant expressions.
type limitChecker struct {
	ev  *plan.Evaluator
	r   *reporter
	pos map[string]plan.Pos // step id -> its position in the document
}

func checkLimits(c *Checked, p *plan.Plan) Diagnostics {
	r := &reporter{file: c.doc.file}
	if b, err := json.Marshal(p); err == nil && len(b) > plan.MaxPlanBytes {
		r.hinted(CodePayloadSize, c.doc.Pos, "", "move large literals into params or files the actions read, or split the runbook into sub-runbooks",
			"the compiled plan is %d bytes, more than the %d a run can carry (Temporal takes payloads of at most %d bytes)", len(b), plan.MaxPlanBytes, plan.MaxPayloadBytes)
	}
	ev, err := plan.NewEvaluator(p)
	if err != nil {
		return r.diags
	}
	l := &limitChecker{ev: ev, r: r, pos: map[string]plan.Pos{}}
	for s := range c.doc.All() {
		l.pos[s.ID.Value] = s.ID.Pos
	}
	for _, sec := range p.Sections() {
		l.walk(sec.Steps, plan.Path("spec").Field(sec.Field), sec.Field == "steps")
	}
	p.Walk(func(s *plan.Step) bool {
		l.sizes(s)
		return true
	})
	return r.diags
}

// sizes refuses a step input whose value, known before the run, passes
// plan.MaxOutputBytes of JSON: it travels in an activity's input, and a
// step's outputs (a log's message, a set's values) past it fail the step
// (OutputTooLarge).
func (l *limitChecker) sizes(s *plan.Step) {
	for _, k := range plan.SortedKeys(s.With) {
		x, err := l.ev.Render(s.With[k], plan.Vars{})
		if err != nil {
			continue // known only when the run renders it
		}
		if b, err := json.Marshal(plan.JSONValue(x)); err == nil && len(b) > plan.MaxOutputBytes {
			l.r.hinted(CodePayloadSize, l.pos[s.ID], plan.Path(""), "read large values from a file or a URL the action fetches",
				"step %s: with.%s is %d bytes of JSON, more than the %d a step's input or outputs may be", s.ID, k, len(b), plan.MaxOutputBytes)
		}
	}
}

// walk reports on the loops among steps; resumable says whether a loop
// there can hand over (the main steps and groups among them).
func (l *limitChecker) walk(steps []*plan.Step, path plan.Path, resumable bool) {
	for i, s := range steps {
		sp := path.Index(i)
		switch {
		case s.Kind == plan.StepForEach:
			n, known := l.constCount(s)
			per := l.list(s.Steps)
			l.report(s, sp, "forEach", "item", n, known, per, resumable)
		case s.Kind == plan.StepAction && s.Repeat != nil:
			// A timeout the run computes bounds the repeat as its author
			// chose; only one without a timeout can run without end.
			if n, known := l.attempts(s.Repeat); known || s.Repeat.Timeout.IsZero() {
				l.report(s, sp, "repeat", "attempt", n, known, events{l.action(s) + eventsTimer, true}, resumable)
			}
		}
		for _, sec := range s.Children() {
			field := sec.Field
			if s.Kind == plan.StepParallel && field == "steps" {
				field = "parallel" // the document's name of a parallel's branches
			}
			l.walk(sec.Steps, sp.Field(field), resumable && s.Kind == plan.StepGroup)
		}
	}
}

// report warns of a loop that passes one execution's budget, and refuses
// one that passes Temporal's limit where it cannot hand over.
func (l *limitChecker) report(s *plan.Step, path plan.Path, kind, unit string, n int, known bool, per events, resumable bool) {
	pos := l.pos[s.ID]
	total := n * per.n
	switch {
	case resumable && known && per.bounded && total > plan.HistoryBudget:
		l.r.warnf(CodeHistorySize, pos, path, "%s %s: about %d history events per %s, %d in all; past %d events the run continues as a new execution (about every %d %ss), keeping its id, timeline and state",
			kind, s.ID, per.n, unit, total, plan.HistoryBudget, max(plan.HistoryBudget/max(per.n, 1), 1), unit)
	case resumable:
	case known && per.bounded && total > plan.HistoryLimit:
		l.r.hinted(CodeHistorySize, pos, path, "move the loop to the main steps (or a group among them), where it can hand over to a new execution, or make it shorter",
			"%s %s: about %d history events per %s, %d in all, more than the %d Temporal allows one execution; here (in a parallel, a forEach, onFailure, finally or a compensation) it cannot hand over",
			kind, s.ID, per.n, unit, total, plan.HistoryLimit)
	case !per.bounded:
		// A loop inside that may not end reports itself.
	case !known:
		if s.Kind == plan.StepForEach && n*per.n <= plan.HistoryLimit {
			return // even its longest list fits
		}
		l.r.add(SeverityWarning, CodeHistorySize, pos, path, "move the loop to the main steps (or a group among them), where it can hand over to a new execution, or bound it",
			fmt.Sprintf("%s %s: about %d history events per %s, and how many it runs is known only when it runs; past %d events Temporal ends the run, and here (in a parallel, a forEach, onFailure, finally or a compensation) it cannot hand over",
				kind, s.ID, per.n, unit, plan.HistoryLimit))
	}
}

// constCount is a forEach's length when its list is a constant, else the
// most items it may have.
func (l *limitChecker) constCount(s *plan.Step) (int, bool) {
	if x, err := l.ev.Eval(s.ForEach, plan.Vars{}); err == nil {
		if items, ok := x.([]any); ok {
			return len(items), true
		}
	}
	return plan.MaxListItems, false
}

// attempts is how many attempts a repeat makes at most, when its every and
// timeout are fixed.
func (l *limitChecker) attempts(rp *plan.Repeat) (int, bool) {
	every, err := l.ev.Duration(rp.Every, plan.Vars{})
	if err != nil || every <= 0 || rp.Timeout.IsZero() {
		return 0, false
	}
	timeout, err := l.ev.Duration(rp.Timeout, plan.Vars{})
	if err != nil {
		return 0, false
	}
	return int(timeout/every) + 1, true
}

func (l *limitChecker) list(steps []*plan.Step) events {
	e := events{0, true}
	for _, s := range steps {
		e = e.add(l.step(s))
	}
	return e
}

// step estimates the events of one run of s.
func (l *limitChecker) step(s *plan.Step) events {
	switch s.Kind {
	case plan.StepAction:
		if s.Repeat != nil {
			n, known := l.attempts(s.Repeat)
			return events{n * (l.action(s) + eventsTimer), known}
		}
		return events{l.action(s), true}
	case plan.StepSleep:
		return events{eventsTimer, true}
	case plan.StepWaitFor:
		return events{eventsWaitFor, true}
	case plan.StepApproval:
		e := eventsApproval
		if s.Approval != nil && s.Approval.Notify != nil {
			e += eventsActivity
		}
		return events{e, true}
	case plan.StepRunbook:
		return events{eventsChild, true}
	case plan.StepGroup, plan.StepParallel:
		return l.list(s.Steps)
	case plan.StepForEach:
		n, known := l.constCount(s)
		per := l.list(s.Steps)
		return events{n * per.n, known && per.bounded}
	}
	return events{0, true}
}

func (l *limitChecker) action(s *plan.Step) int {
	if s.Local {
		return eventsLocal
	}
	return eventsActivity
}
