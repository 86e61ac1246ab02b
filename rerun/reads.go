package rerun

import (
	"fmt"
	"reflect"

	"github.com/opsrunbook/runbook/plan"
)

// missingReads refuses a rerun whose steps that will run (or run when it
// fails: onFailure, finally, compensations) read a step passed without a
// result, or whose outputs read one.
func (w *walker) missingReads() []Problem {
	if len(w.notRun) == 0 {
		return nil
	}
	replayedOnce := map[string]bool{} // replayed, and outside loops: it runs nowhere
	for _, u := range w.res.Reuse {
		if u.Item == nil && w.tree.loops[u.Step] == 0 {
			replayedOnce[u.Step] = true
		}
	}
	var probs []Problem
	seen := map[string]bool{}
	report := func(reader string, reads []string) {
		for _, id := range reads {
			if w.notRun[id] && !seen[reader+"\x00"+id] {
				seen[reader+"\x00"+id] = true
				probs = append(probs, Problem{Field: "from", Step: id, Message: fmt.Sprintf(
					"%s reads steps.%s, which run %s has no result for (%s): resume from %s or a step before it",
					reader, id, w.in.Run, w.oldStatus(id), id)})
			}
		}
	}
	for s := range w.in.Plan.All() {
		switch {
		case w.notRun[s.ID]:
			continue
		case replayedOnce[s.ID]:
			if s.Compensate != nil {
				report("the compensation of "+s.ID, stepReads(reflect.ValueOf(s.Compensate)))
			}
		default:
			report(s.ID, stepReads(reflect.ValueOf(s)))
		}
	}
	for _, o := range w.in.Plan.Outputs {
		report("output "+o.Name, o.Expr.Steps)
	}
	return probs
}

// oldStatus says what the earlier run had for step id.
func (w *walker) oldStatus(id string) string {
	for _, e := range w.in.Old {
		if e.ID == id {
			return "it was " + e.Status
		}
	}
	return "the step is not in its version"
}

var (
	exprType  = reflect.TypeOf(plan.Expr{})
	stepsType = reflect.TypeOf([]*plan.Step(nil))
	planType  = reflect.TypeOf(&plan.Plan{})
)

// stepReads lists the steps the expressions directly in v read: every
// plan.Expr reachable from it, except through the steps nested in it and
// an embedded sub-runbook plan (their steps are walked on their own, and a
// sub-runbook reads its own steps). Reflection keeps it exhaustive as
// fields are added.
func stepReads(v reflect.Value) []string {
	var out []string
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		if v.Type() == stepsType || v.Type() == planType {
			return
		}
		switch v.Kind() {
		case reflect.Pointer, reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Struct:
			if v.Type() == exprType {
				out = append(out, v.Interface().(plan.Expr).Steps...)
				return
			}
			for i := range v.NumField() {
				if v.Type().Field(i).IsExported() {
					walk(v.Field(i))
				}
			}
		case reflect.Slice, reflect.Array:
			for i := range v.Len() {
				walk(v.Index(i))
			}
		case reflect.Map:
			for _, k := range v.MapKeys() {
				walk(v.MapIndex(k))
			}
		}
	}
	walk(v)
	return out
}
