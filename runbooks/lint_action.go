package runbooks

import (
	"fmt"
	"slices"
	"strings"

	"github.com/opsrunbook/runbook/plan"
)

func (l *linter) lintAction(s *Step, n *stepNode, path plan.Path, vis visibility, ctx *stepCtx) {
	spec, ok := l.action(&s.Action, path.Field("action"))
	sc := ctx.scope(vis, n, "with")
	sc.secrets = true
	if ok {
		l.lintWith(spec, &s.With, s.Pos, path.Field("with"), sc)
	} else {
		l.lintUntypedWith(&s.With, path.Field("with"), sc)
	}
	l.duration(&s.Timeout, path.Field("timeout"), ctx.scope(vis, n, "timeout"))
	if r := s.Retry; r != nil {
		l.lintRetry(r, spec, path.Field("retry"), ctx.scope(vis, n, "retry"))
	}
	if r := s.Repeat; r != nil {
		rpath := path.Field("repeat")
		if r.Until.Set {
			sc := ctx.scope(vis, n, "repeat.until")
			if n.outputs != nil {
				sc.env = l.withVar(ctx.env, plan.VarOutputs, l.types.CelType(n.outputs, "runbook.steps."+n.id+".outputs"))
			}
			if e, _ := l.checkExpr(r.Until.Value, stringSite(&r.Until), rpath.Field("until"), sc, plan.BoolType); e != nil {
				l.out.exprs[&r.Until] = e
			}
		}
		l.duration(&r.Every, rpath.Field("every"), ctx.scope(vis, n, "repeat.every"))
		l.duration(&r.Timeout, rpath.Field("timeout"), ctx.scope(vis, n, "repeat.timeout"))
	}
	if c := s.Compensate; c != nil {
		l.lintCompensate(c, n, path.Field("compensate"), vis, ctx)
	}
}

// action resolves an action name, reporting unknown ones with a hint.
func (l *linter) action(name *String, path plan.Path) (*plan.ActionSpec, bool) {
	if !name.Set || name.bad {
		return nil, false
	}
	spec, ok := l.opts.Actions.Action(name.Value)
	if !ok {
		hint := plan.SuggestName(name.Value, actionNames(l.opts.Actions))
		if hint == "" {
			hint = "runbook actions lists them"
		}
		l.r.hinted(CodeUnknownAction, name.Pos, path, hint, "unknown action %q", name.Value)
	}
	return spec, ok
}

// lintCompensate checks the undo of a step: one action, or steps. It runs
// after the step succeeded, so it may read the step's own outputs; its
// steps are readable only among themselves.
func (l *linter) lintCompensate(c *Compensate, n *stepNode, path plan.Path, vis visibility, ctx *stepCtx) {
	switch {
	case c.Action.Set && c.Steps.Set:
		l.r.errorf(CodeConflict, c.Pos, path, "compensate takes an action or steps, not both")
		return
	case !c.Action.Set && !c.Steps.Set:
		l.r.errorf(CodeRequired, c.Pos, path, "compensate needs an action or steps")
		return
	case c.With.Set && !c.Action.Set:
		l.r.errorf(CodeNotAllowed, c.With.Pos, path.Field("with"), "with goes with a compensate action")
	}
	if l.steps[n.id] == n {
		vis[n.id] = finished // lintStep sets it again, with its certainty
	}
	if c.Action.Set {
		sc := ctx.scope(vis, n, "compensate.with")
		sc.secrets = true
		if spec, ok := l.action(&c.Action, path.Field("action")); ok {
			l.lintWith(spec, &c.With, c.Pos, path.Field("with"), sc)
		} else {
			l.lintUntypedWith(&c.With, path.Field("with"), sc)
		}
		return
	}
	if len(c.Steps.Items) == 0 {
		l.r.errorf(CodeRequired, c.Steps.Pos, path.Field("steps"), "compensate steps needs at least one step")
	}
	l.lintList(c.Steps.Items, path.Field("steps"), vis, ctx)
	for _, s := range c.Steps.Items {
		vis.take(l.subtree(s))
	}
}

func actionNames(c plan.Catalog) []string {
	var names []string
	for _, a := range c.Actions() {
		names = append(names, a.Name)
	}
	return names
}

// lintUntypedWith checks the expressions of the inputs of an unknown
// action, so that fixing its name does not reveal new problems.
func (l *linter) lintUntypedWith(with *Map[Raw], path plan.Path, sc *exprScope) {
	for i := range with.Entries {
		e := &with.Entries[i]
		l.checkValue(e.Value.Node, plan.AnyType, path.Key(e.Key), sc)
	}
}

// lintWith checks action inputs against the action's spec.
func (l *linter) lintWith(spec *plan.ActionSpec, with *Map[Raw], stepPos plan.Pos, path plan.Path, sc *exprScope) {
	given := map[string]bool{}
	values := map[string]*plan.Value{}
	for i := range with.Entries {
		e := &with.Entries[i]
		epath := path.Key(e.Key)
		f, ok := spec.Input(e.Key)
		if !ok {
			names := make([]string, len(spec.Inputs))
			for j, in := range spec.Inputs {
				names[j] = in.Name
			}
			l.r.hinted(CodeUnknownField, e.KeyPos, epath, plan.Suggest(e.Key, names), "action %s has no input %q", spec.Name, e.Key)
			l.checkValue(e.Value.Node, plan.AnyType, epath, sc) // its expressions are still checked
			continue
		}
		given[e.Key] = true
		v := l.checkValue(e.Value.Node, f.Type, epath, sc)
		if v == nil {
			continue
		}
		if s, isStr := v.Lit.(string); v.IsLiteral() && isStr && len(f.Enum) > 0 && !slices.Contains(f.Enum, s) {
			l.r.hinted(CodeInvalidValue, e.Value.Pos, epath, plan.Suggest(s, f.Enum), "%q is not one of %s", s, strings.Join(f.Enum, ", "))
			continue
		}
		l.out.values[e.Value.Node] = v
		l.lintPinned(f, v, epath, sc)
		values[e.Key] = v
	}
	// A shell run without -c reads its script from stdin.
	for _, f := range spec.Inputs {
		if prog, ok := readsScript(values[f.Name]); ok && f.Role == plan.RoleCommand && values["stdin"] != nil {
			l.lintCode(values["stdin"], path.Key("stdin"), sc, prog+" stdin script", "pass it as an argument (sh -s -- VALUE) or through env")
		}
	}
	at := with.Pos
	if !with.Set {
		at = stepPos
	}
	for _, f := range spec.Inputs {
		if f.Required && !given[f.Name] {
			l.r.errorf(CodeRequired, at, path, "action %s needs input %q", spec.Name, f.Name)
		}
	}
	for _, group := range spec.ExactlyOne {
		if n := countGiven(group, given); n != 1 {
			code := CodeConflict
			if n == 0 {
				code = CodeRequired
			}
			l.r.errorf(code, at, path, "action %s needs exactly one of %s, got %d", spec.Name, strings.Join(group, ", "), n)
		}
	}
	for _, group := range spec.AtMostOne {
		if n := countGiven(group, given); n > 1 {
			l.r.errorf(CodeConflict, at, path, "action %s takes at most one of %s", spec.Name, strings.Join(group, ", "))
		}
	}
	for _, n := range spec.Needs {
		l.lintNeeds(spec, n, given, values, with, path)
	}
}

// lintNeeds checks one of spec.Needs where both inputs are literals (or
// the other one is left at its default); a value an expression gives is
// the action's to refuse when it runs.
func (l *linter) lintNeeds(spec *plan.ActionSpec, n plan.InputNeeds, given map[string]bool, values map[string]*plan.Value, with *Map[Raw], path plan.Path) {
	in, _ := spec.Input(n.Input)
	v := values[n.Input]
	if v == nil || !v.IsLiteral() || fmt.Sprint(v.Lit) == fmt.Sprint(in.Default) {
		return
	}
	other, _ := spec.Input(n.Other)
	got := fmt.Sprint(other.Default)
	if given[n.Other] {
		ov := values[n.Other]
		if ov == nil || !ov.IsLiteral() {
			return // reported as it is, or known when the step runs
		}
		got = fmt.Sprint(ov.Lit)
	}
	if got == n.Value {
		return
	}
	for i := range with.Entries {
		if e := &with.Entries[i]; e.Key == n.Input {
			l.r.errorf(CodeConflict, e.Value.Pos, path.Key(e.Key), "action %s: %s %v needs %s %s, not %s", spec.Name, n.Input, v.Lit, n.Other, n.Value, got)
		}
	}
}

func countGiven(group []string, given map[string]bool) int {
	n := 0
	for _, g := range group {
		if given[g] {
			n++
		}
	}
	return n
}

// lintRetry checks a retry policy; spec is nil when the action is unknown.
func (l *linter) lintRetry(r *Retry, spec *plan.ActionSpec, path plan.Path, sc *exprScope) {
	if r.MaxAttempts.Set && !r.MaxAttempts.bad && r.MaxAttempts.Value < 1 {
		l.r.errorf(CodeInvalidValue, r.MaxAttempts.Pos, path.Field("maxAttempts"), "maxAttempts must be at least 1, got %d", r.MaxAttempts.Value)
	}
	if r.Backoff.Set && !r.Backoff.bad && r.Backoff.Value < 1 {
		l.r.errorf(CodeInvalidValue, r.Backoff.Pos, path.Field("backoff"), "backoff must be at least 1, got %v", r.Backoff.Value)
	}
	initial, ok1 := l.duration(&r.InitialInterval, path.Field("initialInterval"), sc)
	maxInt, ok2 := l.duration(&r.MaxInterval, path.Field("maxInterval"), sc)
	if ok1 && ok2 && r.InitialInterval.Set && r.MaxInterval.Set && maxInt < initial {
		l.r.errorf(CodeInvalidValue, r.MaxInterval.Pos, path.Field("maxInterval"), "maxInterval %s is less than initialInterval %s", r.MaxInterval.Value, r.InitialInterval.Value)
	}
	for i, t := range r.NonRetryable.Items {
		ipath := path.Field("nonRetryable").Index(i)
		switch {
		case !t.Set:
		case strings.TrimSpace(t.Value) == "":
			l.r.errorf(CodeRequired, t.Pos, ipath, "error type must not be empty")
		case spec != nil && spec.Errors != nil && !slices.Contains(spec.Errors, t.Value):
			l.r.hinted(CodeInvalidValue, t.Pos, ipath, plan.SuggestName(t.Value, spec.Errors), "action %s does not fail with error type %q; it fails with %s", spec.Name, t.Value, strings.Join(spec.Errors, ", "))
		}
	}
}
