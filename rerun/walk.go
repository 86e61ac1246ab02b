package rerun

import (
	"fmt"
	"slices"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/workflows"
)

// walker goes through the plan once, in the order the run would, and
// lists what the new run reuses. Three ways to walk a list of steps:
//
//   - contains: the list holds From. Steps before it are passed (before),
//     From and what follows run.
//   - before: every step is before From and is not run again: its
//     recorded result is replayed, or, without one, it is passed (not run).
//   - prefix: the other branches of a parallel that holds From, and the
//     other items of a forEach that does: what succeeded is replayed, up
//     to the first entry that did not; that one and the rest run again.
//
// Containers (groups, parallels, forEach) are never replayed themselves:
// the run enters them, and their steps replay, so that a forEach's items,
// their loop variables and their compensations are there as before.
type walker struct {
	in     Input
	tree   *tree
	res    *Result
	old    map[key]*workflows.StepState
	items  map[string][]int // forEach → the items the earlier run started, in timeline order
	notRun map[string]bool
}

// onPath tells whether s is From or holds it.
func (w *walker) onPath(s *plan.Step) bool {
	return slices.Contains(w.tree.path(w.in.From.Step), s.ID)
}

func (w *walker) contains(steps []*plan.Step, item *int) {
	for _, s := range steps {
		if w.onPath(s) {
			w.containsStep(s, item)
			return
		}
		w.beforeStep(s, item, false)
	}
}

func (w *walker) containsStep(s *plan.Step, item *int) {
	from := w.in.From
	if s.ID == from.Step && (s.Kind != plan.StepForEach || from.Item == nil) {
		return // From itself runs, and all it holds
	}
	switch s.Kind {
	case plan.StepGroup:
		w.contains(s.Steps, item)
	case plan.StepParallel:
		for _, b := range s.Steps {
			if w.onPath(b) {
				w.containsStep(b, item)
			} else {
				w.prefixStep(b, item)
			}
		}
	case plan.StepForEach:
		for _, i := range w.items[s.ID] {
			i := i
			switch {
			case from.Item != nil && i == *from.Item && s.ID == from.Step:
				// deploy[3]: item 3 runs from its first step
			case from.Item != nil && i == *from.Item:
				w.contains(s.Steps, &i)
			case from.Item == nil && w.reachedIn(s.Steps, &i):
				w.contains(s.Steps, &i)
			default:
				w.prefix(s.Steps, &i)
			}
		}
	}
}

// reachedIn tells whether the item's steps before From all finished, so
// that it can resume at From; an item that stopped before resumes at its
// own failure instead.
func (w *walker) reachedIn(steps []*plan.Step, item *int) bool {
	for _, s := range steps {
		if w.onPath(s) {
			if s.ID == w.in.From.Step {
				return true
			}
			return w.reachedIn(s.Steps, item) // a group or parallel around From
		}
		if !w.done(s, item) {
			return false
		}
	}
	return true
}

// done tells whether s (and all it holds) finished in item.
func (w *walker) done(s *plan.Step, item *int) bool {
	e := w.old[keyOf(s.ID, item)]
	return e != nil && finished(e, s)
}

func (w *walker) before(steps []*plan.Step, item *int, contained bool) {
	for _, s := range steps {
		w.beforeStep(s, item, contained)
	}
}

// beforeStep passes s, which comes before From. contained says that a
// failure recorded inside it did not stop the run (an item of a forEach
// that went on).
func (w *walker) beforeStep(s *plan.Step, item *int, contained bool) {
	if w.runsAgain(s, item) {
		return
	}
	switch s.Kind {
	case plan.StepGroup, plan.StepParallel:
		w.before(s.Steps, item, contained)
		return
	case plan.StepForEach:
		e := w.old[keyOf(s.ID, item)]
		if e == nil {
			w.pass(s, item, nil)
			return
		}
		ok := finished(e, s)
		for _, i := range w.items[s.ID] {
			i := i
			w.before(s.Steps, &i, ok)
			w.before(s.OnError, &i, true)
		}
		return
	}
	e := w.old[keyOf(s.ID, item)]
	switch {
	case e == nil || e.Kind != string(s.Kind):
		w.pass(s, item, e)
	case finished(e, s) || e.Status == workflows.StatusFailed && contained:
		w.replay(s, item, e)
	default:
		w.pass(s, item, e)
	}
}

func (w *walker) prefix(steps []*plan.Step, item *int) bool {
	for _, s := range steps {
		if w.prefixStep(s, item) {
			return true
		}
	}
	return false
}

// prefixStep replays s if it finished, and says whether the walk of its
// list stops here (s, and what follows, run again).
func (w *walker) prefixStep(s *plan.Step, item *int) (stop bool) {
	if w.runsAgain(s, item) {
		return true
	}
	switch s.Kind {
	case plan.StepGroup:
		return w.prefix(s.Steps, item)
	case plan.StepParallel:
		for _, b := range s.Steps {
			stop = w.prefixStep(b, item) || stop
		}
		return stop
	case plan.StepForEach:
		for _, i := range w.items[s.ID] {
			i := i
			stop = w.prefix(s.Steps, &i) || stop
		}
		e := w.old[keyOf(s.ID, item)]
		return stop || e == nil || !finished(e, s)
	}
	e := w.old[keyOf(s.ID, item)]
	if e == nil || e.Kind != string(s.Kind) || !finished(e, s) {
		return true
	}
	w.replay(s, item, e)
	return false
}

// runsAgain tells a step before From that runs in the new run all the
// same: marked resumable: false, an approval when the version or params
// changed (its approvers approved the earlier ones), a forEach in a
// forEach body (its entries are not told apart).
func (w *walker) runsAgain(s *plan.Step, item *int) bool {
	again := s.NotResumable || s.Kind == plan.StepApproval && w.in.Changed ||
		s.Kind == plan.StepForEach && w.tree.loops[s.ID] > 0
	if again {
		w.res.RunAgain = append(w.res.RunAgain, name(s.ID, item))
	}
	return again
}

func (w *walker) replay(s *plan.Step, item *int, e *workflows.StepState) {
	w.res.Reuse = append(w.res.Reuse, workflows.Reused{Step: s.ID, Item: item, How: workflows.ReuseReplay, State: *e})
	w.res.Reused = append(w.res.Reused, name(s.ID, item))
	if e.Status == workflows.StatusCompensated {
		w.res.Warnings = append(w.res.Warnings, fmt.Sprintf("step %s was compensated in run %s: its outputs are reused, what it did is not done again (resume from it to do it again)", name(s.ID, item), w.in.Run))
	}
}

func (w *walker) pass(s *plan.Step, item *int, e *workflows.StepState) {
	var old workflows.StepState
	if e != nil {
		old = *e
	}
	w.res.Reuse = append(w.res.Reuse, workflows.Reused{Step: s.ID, Item: item, How: workflows.ReuseNotRun, State: old})
	w.res.NotRun = append(w.res.NotRun, name(s.ID, item))
	w.notRun[s.ID] = true
}

func name(id string, item *int) string {
	if item == nil {
		return id
	}
	return fmt.Sprintf("%s[%d]", id, *item)
}
