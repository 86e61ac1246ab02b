package runbooks

import (
	"iter"
	"slices"
	"strings"

	"github.com/opsrunbook/runbook/plan"
)

// stepKind is one kind of step and all that lint and compile know of it.
// Adding a kind is an entry in stepKinds (docs/contributing.md has the
// recipe); the walkers of the step tree need no change.
type stepKind struct {
	kind plan.StepKind
	// field is the YAML field that makes a step this kind; set says whether
	// s sets it.
	field string
	set   func(s *Step) bool
	// fields are the other fields a step of the kind may set, besides the
	// common ones. The step lists among them are its child sections.
	fields []string
	// outputs types steps.<id>.outputs, before any expression is checked
	// (nil: untyped); a kind without it has plan.NoOutputs.
	outputs func(l *linter, n *stepNode) *plan.Type
	// lint checks the kind's fields with vis as what is readable before the
	// step, recording in l.out what compile reads.
	lint func(l *linter, s *Step, n *stepNode, path plan.Path, vis visibility, ctx *stepCtx)
	// compile fills the kind's fields of ps from what lint recorded.
	compile func(c *compiler, s *Step, ps *plan.Step)
}

// commonStepFields are the fields every kind may set.
var commonStepFields = []string{"id", "name", "description", "if", "continueOnError", "resumable"}

// stepKinds lists the kinds in the order the format and its messages list
// them. It is filled in init: its functions lead back to lintStep.
var stepKinds []*stepKind

func init() {
	stepKinds = []*stepKind{{
		kind: plan.StepAction, field: "action", set: func(s *Step) bool { return s.Action.Set },
		fields: []string{"with", "timeout", "retry", "repeat", "compensate", "onStepFailure"},
		outputs: func(l *linter, n *stepNode) *plan.Type {
			if spec, ok := l.opts.Actions.Action(n.step.Action.Value); ok {
				return spec.OutputType()
			}
			return nil // unknown actions leave outputs untyped
		},
		lint:    (*linter).lintAction,
		compile: (*compiler).action,
	}, {
		kind: plan.StepApproval, field: "approval", set: func(s *Step) bool { return s.Approval != nil },
		outputs: func(l *linter, n *stepNode) *plan.Type {
			var inputs []plan.Field
			for _, p := range n.step.Approval.Inputs.Items {
				if p.Name.Set && p.Type.Set {
					inputs = append(inputs, plan.Field{Name: p.Name.Value, Type: plan.ParamType(p.Type.Value, p.Items.Value)})
				}
			}
			return plan.ApprovalOutputs(inputs)
		},
		lint: func(l *linter, s *Step, n *stepNode, path plan.Path, vis visibility, ctx *stepCtx) {
			l.lintApproval(s.Approval, path.Field("approval"), ctx.scope(vis, n, "approval"))
		},
		compile: func(c *compiler, s *Step, ps *plan.Step) { ps.Approval = c.approval(s.Approval) },
	}, {
		kind: plan.StepParallel, field: "parallel", set: func(s *Step) bool { return s.Parallel.Set },
		fields: []string{"failFast"},
		lint: func(l *linter, s *Step, _ *stepNode, path plan.Path, vis visibility, ctx *stepCtx) {
			l.lintParallel(s, path, vis, ctx)
		},
		compile: func(c *compiler, s *Step, ps *plan.Step) {
			ps.Steps = c.stepList(s.Parallel.Items)
			ps.FailFast = !s.FailFast.Set || s.FailFast.Value
		},
	}, {
		kind: plan.StepGroup, field: "steps", set: func(s *Step) bool { return s.Steps.Set && !s.ForEach.Set },
		lint: func(l *linter, s *Step, _ *stepNode, path plan.Path, vis visibility, ctx *stepCtx) {
			l.lintGroup(s, path, vis, ctx)
		},
		compile: func(c *compiler, s *Step, ps *plan.Step) { ps.Steps = c.stepList(s.Steps.Items) },
	}, {
		kind: plan.StepForEach, field: "forEach", set: func(s *Step) bool { return s.ForEach.Set },
		fields:  []string{"as", "maxConcurrency", "maxErrors", "batchSize", "onError", "steps"},
		outputs: func(*linter, *stepNode) *plan.Type { return plan.ForEachOutputs },
		lint:    (*linter).lintForEach,
		compile: (*compiler).forEach,
	}, {
		kind: plan.StepRunbook, field: "runbook", set: func(s *Step) bool { return s.Runbook != nil },
		fields: []string{"onStepFailure"},
		outputs: func(l *linter, n *stepNode) *plan.Type {
			// Unresolved children leave outputs untyped so that reads of them
			// do not pile more errors onto the one about the child.
			child := l.child(n.step.Runbook, n.path.Field("runbook"))
			if child == nil {
				return nil
			}
			fields := make([]plan.Field, len(child.Outputs))
			for i, o := range child.Outputs {
				fields[i] = plan.Field{Name: o.Name, Type: o.Type}
			}
			return plan.ObjectOf(fields...)
		},
		lint: func(l *linter, s *Step, n *stepNode, path plan.Path, vis visibility, ctx *stepCtx) {
			l.lintSubRunbook(s.Runbook, path.Field("runbook"), ctx.scope(vis, n, "runbook.params"))
		},
		compile: func(c *compiler, s *Step, ps *plan.Step) {
			ps.Runbook = &plan.SubRunbook{Name: s.Runbook.Name.Value, Params: c.with(&s.Runbook.Params), Plan: c.child(s.Runbook)}
		},
	}, {
		kind: plan.StepSleep, field: "sleep", set: func(s *Step) bool { return s.Sleep.Set },
		lint: func(l *linter, s *Step, n *stepNode, path plan.Path, vis visibility, ctx *stepCtx) {
			l.duration(&s.Sleep, path.Field("sleep"), ctx.scope(vis, n, "sleep"))
		},
		compile: func(c *compiler, s *Step, ps *plan.Step) { ps.Sleep = c.duration(&s.Sleep) },
	}, {
		kind: plan.StepWaitFor, field: "waitFor", set: func(s *Step) bool { return s.WaitFor != nil },
		outputs: func(*linter, *stepNode) *plan.Type { return plan.WaitForOutputs },
		lint: func(l *linter, s *Step, n *stepNode, path plan.Path, vis visibility, ctx *stepCtx) {
			l.lintWaitFor(s.WaitFor, path.Field("waitFor"), ctx.scope(vis, n, "waitFor"))
		},
		compile: func(c *compiler, s *Step, ps *plan.Step) {
			w := s.WaitFor
			ps.WaitFor = &plan.WaitFor{Event: w.Event.Value, Timeout: c.duration(&w.Timeout), OnTimeout: or(w.OnTimeout.Value, plan.WaitTimeoutFail), Senders: values(w.Senders.Items)}
		},
	}, {
		kind: plan.StepAssert, field: "assert", set: func(s *Step) bool { return s.Assert != nil },
		fields: []string{"onStepFailure"},
		lint: func(l *linter, s *Step, n *stepNode, path plan.Path, vis visibility, ctx *stepCtx) {
			l.lintAssert(s.Assert, path.Field("assert"), ctx.scope(vis, n, "assert"))
		},
		compile: func(c *compiler, s *Step, ps *plan.Step) {
			ps.Assert = &plan.Assert{That: c.expr(&s.Assert.That), Message: c.value(s.Assert.Message)}
		},
	}, {
		kind: plan.StepSet, field: "set", set: func(s *Step) bool { return s.Set.Set },
		outputs: func(l *linter, n *stepNode) *plan.Type {
			l.declareSetVars(n)
			return plan.NoOutputs
		},
		lint: func(l *linter, s *Step, n *stepNode, path plan.Path, vis visibility, ctx *stepCtx) {
			l.lintSet(s, n, path.Field("set"), ctx.scope(vis, n, "set"))
		},
		compile: func(c *compiler, s *Step, ps *plan.Step) { ps.Set = c.varList(&s.Set) },
	}, {
		kind: plan.StepExit, field: "exit", set: func(s *Step) bool { return s.Exit != nil },
		lint:    (*linter).lintExit,
		compile: func(c *compiler, s *Step, ps *plan.Step) { ps.Exit = &plan.Exit{Message: c.value(s.Exit.Message)} },
	}}
}

// kindOf returns the table entry of a kind, nil for an unknown one.
func kindOf(k plan.StepKind) *stepKind {
	for _, sk := range stepKinds {
		if sk.kind == k {
			return sk
		}
	}
	return nil
}

// allows reports whether a step of the kind may set a field.
func (k *stepKind) allows(field string) bool {
	return field == k.field || slices.Contains(k.fields, field) || slices.Contains(commonStepFields, field)
}

// kindsOf lists the kinds a step sets, in the order the format lists them.
func kindsOf(s *Step) []*stepKind {
	var kinds []*stepKind
	for _, k := range stepKinds {
		if k.set(s) {
			kinds = append(kinds, k)
		}
	}
	return kinds
}

func kindNames() string {
	names := make([]string, len(stepKinds))
	for i, k := range stepKinds {
		names[i] = k.field
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// stepSection is a list of steps nested directly in a step of a document.
type stepSection struct {
	field string    // the step's field that holds it: parallel, steps, onError or compensate
	path  plan.Path // its path below the step: parallel, steps, onError or compensate.steps
	runs  plan.Runs
	steps []*Step
}

// sections lists the step lists set directly inside s, whatever its kind,
// in this fixed order: parallel, steps, onError, compensate.steps. Every
// walker of a document's step tree descends through it; lint keeps those
// its kind allows (stepKind.allows of the section's field).
func sections(s *Step) []stepSection {
	var out []stepSection
	if s.Parallel.Set {
		out = append(out, stepSection{field: "parallel", path: "parallel", runs: plan.RunsInline, steps: s.Parallel.Items})
	}
	if s.Steps.Set {
		runs := plan.RunsInline
		if s.ForEach.Set {
			runs = plan.RunsPerItem
		}
		out = append(out, stepSection{field: "steps", path: "steps", runs: runs, steps: s.Steps.Items})
	}
	if s.OnError.Set {
		out = append(out, stepSection{field: "onError", path: "onError", runs: plan.RunsOnItemError, steps: s.OnError.Items})
	}
	if c := s.Compensate; c != nil && c.Steps.Set {
		out = append(out, stepSection{field: "compensate", path: "compensate.steps", runs: plan.RunsOnUndo, steps: c.Steps.Items})
	}
	return out
}

// All yields every step of the document at any depth in document order:
// spec.steps, spec.onFailure, spec.finally, each step before the lists
// nested in it, whatever its kind allows.
func (d *Document) All() iter.Seq[*Step] {
	return func(yield func(*Step) bool) {
		for _, list := range [][]*Step{d.Spec.Steps.Items, d.Spec.OnFailure.Items, d.Spec.Finally.Items} {
			if !yieldSteps(list, yield) {
				return
			}
		}
	}
}

func yieldSteps(list []*Step, yield func(*Step) bool) bool {
	for _, s := range list {
		if s == nil {
			continue
		}
		if !yield(s) {
			return false
		}
		for _, sec := range sections(s) {
			if !yieldSteps(sec.steps, yield) {
				return false
			}
		}
	}
	return true
}
