// Package rerun decides what a rerun of a recorded run reuses: given the
// plan the new run runs, the earlier run's final timeline and the step to
// resume from, which entries are replayed from the record, which steps are
// passed without a result, and what the request cannot have (a step the
// resumed part reads that the record has no result for). The interpreter
// (workflows.Rerun) only follows the list. The rules are in
// docs/execution.md#rerun-and-resume.
package rerun

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/workflows"
)

// Target is the step a rerun resumes from: a step of spec.steps, and an
// item when it is (in) a forEach.
type Target struct {
	Step string
	Item *int
}

func (t Target) String() string {
	if t.Item == nil {
		return t.Step
	}
	return fmt.Sprintf("%s[%d]", t.Step, *t.Item)
}

// ParseTarget reads "deploy" or "deploy[3]".
func ParseTarget(s string) (Target, error) {
	id, rest, ok := strings.Cut(s, "[")
	if !ok {
		if s == "" {
			return Target{}, fmt.Errorf("no step")
		}
		return Target{Step: s}, nil
	}
	n, err := strconv.Atoi(strings.TrimSuffix(rest, "]"))
	if !strings.HasSuffix(rest, "]") || err != nil || n < 0 || id == "" {
		return Target{}, fmt.Errorf("%q is not STEP or STEP[ITEM] with ITEM a whole number", s)
	}
	return Target{Step: id, Item: &n}, nil
}

// Input is what a rerun is decided from.
type Input struct {
	Plan   *plan.Plan            // the version the new run runs
	Run    string                // the earlier run
	Old    []workflows.StepState // its final timeline
	From   *Target               // nil: from the top, nothing reused
	Failed string                // the earlier run's failedStep, if it failed
	// Changed is true when the new run's version or params differ from
	// the earlier run's: approvals before From are then asked again.
	Changed bool
}

// Result is what the new run reuses.
type Result struct {
	Reuse []workflows.Reused
	// Reused lists the entries replayed (deploy_canary, deploy[2]), in
	// plan order; RunAgain the steps before From that run again (approvals
	// asked again, resumable: false); NotRun those passed without a result.
	Reused   []string `json:"reused"`
	RunAgain []string `json:"runAgain"`
	NotRun   []string `json:"notRun"`
	// Warnings say what the caller should know: a reused step the earlier
	// run compensated (its work was undone, its outputs are reused).
	Warnings []string `json:"warnings"`
}

// Problem is why a rerun is refused.
type Problem struct {
	Field   string `json:"field"`
	Step    string `json:"step,omitempty"`
	Message string `json:"message"`
}

// Decide works out a rerun. Problems refuse it, all at once.
func Decide(in Input) (*Result, []Problem) {
	res := &Result{Reused: []string{}, RunAgain: []string{}, NotRun: []string{}, Warnings: []string{}}
	if in.From == nil {
		return res, nil
	}
	t := newTree(in.Plan)
	if probs := t.check(in); len(probs) > 0 {
		return nil, probs
	}
	w := &walker{in: in, tree: t, res: res, old: map[key]*workflows.StepState{}, items: map[string][]int{}, notRun: map[string]bool{}}
	for i := range in.Old {
		e := &in.Old[i]
		switch e.Phase {
		case workflows.PhaseCompensate, workflows.PhaseOnFailure, workflows.PhaseFinally:
			continue
		}
		if t.loops[e.ID] > 1 { // nested loops' entries are not told apart
			continue
		}
		k := keyOf(e.ID, e.Item)
		if _, dup := w.old[k]; !dup {
			w.old[k] = e
		}
		if e.Item != nil && e.Loop != "" && !containsInt(w.items[e.Loop], *e.Item) {
			w.items[e.Loop] = append(w.items[e.Loop], *e.Item)
		}
	}
	w.contains(in.Plan.Steps, nil)
	if probs := w.missingReads(); len(probs) > 0 {
		return nil, probs
	}
	return res, nil
}

type key struct {
	step string
	item int
}

func keyOf(step string, item *int) key {
	if item == nil {
		return key{step, -1}
	}
	return key{step, *item}
}

// tree indexes the plan's main steps.
type tree struct {
	p      *plan.Plan
	parent map[string]*plan.Step // the step whose inline or per-item section holds it
	main   map[string]bool       // in spec.steps, not in onError or compensate.steps
	loops  map[string]int        // how many forEach bodies hold it
}

func newTree(p *plan.Plan) *tree {
	t := &tree{p: p, parent: map[string]*plan.Step{}, main: map[string]bool{}, loops: map[string]int{}}
	var walk func(steps []*plan.Step, parent *plan.Step, main bool, loops int)
	walk = func(steps []*plan.Step, parent *plan.Step, main bool, loops int) {
		for _, s := range steps {
			t.parent[s.ID], t.main[s.ID], t.loops[s.ID] = parent, main, loops
			for _, sec := range s.Children() {
				inner := loops
				if sec.Runs == plan.RunsPerItem || sec.Runs == plan.RunsOnItemError {
					inner++
				}
				walk(sec.Steps, s, main && (sec.Runs == plan.RunsInline || sec.Runs == plan.RunsPerItem), inner)
			}
		}
	}
	walk(p.Steps, nil, true, 0)
	return t
}

// ancestors of id, outermost first, id last.
func (t *tree) path(id string) []string {
	var out []string
	for s := id; s != ""; {
		out = append([]string{s}, out...)
		if p := t.parent[s]; p != nil {
			s = p.ID
		} else {
			s = ""
		}
	}
	return out
}

// loop is the forEach whose body holds id (or id itself when it is one).
func (t *tree) loop(id string) *plan.Step {
	for s := id; s != ""; {
		if st := t.p.Step(s); st != nil && st.Kind == plan.StepForEach {
			return st
		}
		p := t.parent[s]
		if p == nil {
			return nil
		}
		s = p.ID
	}
	return nil
}

// check refuses a From that cannot be resumed from.
func (t *tree) check(in Input) []Problem {
	from := *in.From
	field := "from"
	s := in.Plan.Step(from.Step)
	switch {
	case s == nil:
		return []Problem{{Field: field, Step: from.Step, Message: fmt.Sprintf("runbook %s has no step %s", in.Plan.Name, from.Step)}}
	case !t.main[s.ID]:
		return []Problem{{Field: field, Step: from.Step, Message: fmt.Sprintf("step %s is not one of spec.steps (it is in onFailure, finally, an onError or a compensation): a rerun resumes from a step of spec.steps", s.ID)}}
	case t.loops[s.ID] > 1 || t.loops[s.ID] == 1 && s.Kind == plan.StepForEach:
		return []Problem{{Field: field, Step: from.Step, Message: fmt.Sprintf("step %s is in a forEach nested in another forEach: resume from the outer forEach or a step of its body", s.ID)}}
	case from.Item != nil && t.loop(s.ID) == nil:
		return []Problem{{Field: field, Step: from.Step, Message: fmt.Sprintf("step %s is not in a forEach, so it has no item %d", s.ID, *from.Item)}}
	}
	// Steps before From are not run again, so the earlier run must have
	// finished them: From is at or before the step where it stopped.
	top := t.path(s.ID)[0]
	old := map[string]*workflows.StepState{}
	for i := range in.Old {
		if e := &in.Old[i]; e.Loop == "" && e.Phase == "" && e.Item == nil {
			old[e.ID] = e
		}
	}
	for _, st := range in.Plan.Steps {
		if st.ID == top {
			break
		}
		if e := old[st.ID]; e != nil && !finished(e, st) {
			return []Problem{{Field: field, Step: from.Step, Message: fmt.Sprintf("step %s comes after %s, where run %s stopped (%s): resume from %s or a step before it", from.Step, st.ID, in.Run, e.Status, st.ID)}}
		}
	}
	return nil
}

// finished tells an entry whose step the run went on after: it succeeded
// (or was compensated after), was skipped, or failed with continueOnError.
func finished(e *workflows.StepState, s *plan.Step) bool {
	switch e.Status {
	case workflows.StatusSucceeded, workflows.StatusCompensated, workflows.StatusReused, workflows.StatusSkipped:
		return true
	case workflows.StatusFailed:
		return s.ContinueOnError
	}
	return false
}

func containsInt(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
