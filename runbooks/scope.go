package runbooks

import (
	"fmt"

	"github.com/opsrunbook/runbook/plan"
)

// stepNode places a step in the runbook: its section, its enclosing steps
// and its order, so that reference rules can say why a step is not readable.
type stepNode struct {
	step    *Step
	id      string
	kind    plan.StepKind
	path    plan.Path
	parent  *stepNode
	section string // spec.steps, spec.onFailure or spec.finally
	order   int
	outputs *plan.Type
	subtree []string  // valid ids of this step and the steps inside it
	compOf  *stepNode // for steps of a multi-step compensation, the step they undo
}

// loop returns the nearest enclosing forEach, or nil.
func (n *stepNode) loop() *stepNode {
	for p := n.parent; p != nil; p = p.parent {
		if p.kind == plan.StepForEach {
			return p
		}
	}
	return nil
}

// encloses reports whether n is an ancestor of m.
func (n *stepNode) encloses(m *stepNode) bool {
	for p := m.parent; p != nil; p = p.parent {
		if p == n {
			return true
		}
	}
	return false
}

// certainty is how sure a reader can be that a step has finished.
type certainty uint8

const (
	finished     certainty = iota + 1 // certainly finished
	maybeSkipped                      // finished, skipped (if) or failed (continueOnError)
	maybeNotRun                       // in onFailure or finally: may never have run
)

// visibility maps step ids to what is known about them at one point.
type visibility map[string]certainty

func (v visibility) clone() visibility {
	c := make(visibility, len(v))
	for k, x := range v {
		c[k] = x
	}
	return c
}

// keys lists the ids v knows.
func (v visibility) keys() []string { return plan.SortedKeys(v) }

// take removes ids from v and returns what v knew about them.
func (v visibility) take(ids []string) visibility {
	out := visibility{}
	for _, id := range ids {
		if c, ok := v[id]; ok {
			out[id] = c
			delete(v, id)
		}
	}
	return out
}

// whyHidden explains why step to cannot be read from step from.
// from is nil for runbook-level fields such as spec.outputs.
func whyHidden(from, to *stepNode) string {
	switch {
	case from == to:
		return fmt.Sprintf("step %q cannot read its own outputs here", to.id)
	case from != nil && to.encloses(from):
		return fmt.Sprintf("steps.%s encloses this step and has not finished yet", to.id)
	}
	if c := to.compOf; c != nil && (from == nil || from.compOf != c) {
		return fmt.Sprintf("steps.%s is part of the compensation of %q and runs only if that step is undone", to.id, c.id)
	}
	if l := to.loop(); l != nil && (from == nil || !l.encloses(from)) {
		return fmt.Sprintf("steps.%s is inside forEach %q and runs once per item; read steps.%s.outputs.results instead", to.id, l.id, l.id)
	}
	if from == nil {
		return fmt.Sprintf("steps.%s runs in %s", to.id, to.section)
	}
	if from.section != to.section {
		return fmt.Sprintf("steps.%s runs in %s, not before this step", to.id, to.section)
	}
	for a := to.parent; a != nil; a = a.parent {
		if a.kind == plan.StepParallel && a.encloses(from) {
			return fmt.Sprintf("steps.%s runs in parallel with this step (both are in parallel %q)", to.id, a.id)
		}
	}
	return fmt.Sprintf("steps.%s runs after this step", to.id)
}
