package runbooks

import (
	"reflect"
	"slices"
	"strings"

	"github.com/opsrunbook/runbook/plan"

	"github.com/google/cel-go/cel"
)

// setFields lists the YAML fields a step sets, with their positions.
func setFields(s *Step) map[string]plan.Pos {
	out := map[string]plan.Pos{}
	v := reflect.ValueOf(s).Elem()
	si := infoOf(v.Type())
	for _, f := range si.fields {
		fv := v.Field(f.index)
		var pos plan.Pos
		set := false
		switch x := fv.Addr().Interface().(type) {
		case *String:
			pos, set = x.Pos, x.Set
		case *Bool:
			pos, set = x.Pos, x.Set
		case *Int:
			pos, set = x.Pos, x.Set
		case *Raw:
			pos, set = x.Pos, x.Set()
		case *List[*Step]:
			pos, set = x.Pos, x.Set
		case *Map[Raw]:
			pos, set = x.Pos, x.Set
		case *Map[String]:
			pos, set = x.Pos, x.Set
		default:
			if fv.Kind() == reflect.Pointer && !fv.IsNil() {
				pos, set = fv.Elem().FieldByName("Pos").Interface().(plan.Pos), true
			}
		}
		if set {
			out[f.name] = pos
		}
	}
	return out
}

func (n *stepNode) conditional() bool {
	return n.step.If.Set || n.step.ContinueOnError.Value
}

// indexSteps gives every step a node, checks ids and kinds, and works out
// each step's output type, before any expression is checked.
func (l *linter) indexSteps() {
	spec := &l.doc.Spec
	l.indexList(spec.Steps.Items, "spec.steps", "spec.steps", nil, nil)
	l.indexList(spec.OnFailure.Items, "spec.onFailure", "spec.onFailure", nil, nil)
	l.indexList(spec.Finally.Items, "spec.finally", "spec.finally", nil, nil)
}

func (l *linter) indexList(steps []*Step, path plan.Path, section string, parent, comp *stepNode) {
	for i, s := range steps {
		spath := path.Index(i)
		n := &stepNode{step: s, id: s.ID.Value, path: spath, parent: parent, section: section, order: l.order, compOf: comp}
		l.order++
		l.nodes[s] = n
		l.indexStep(n)
		k := kindOf(n.kind)
		if k == nil {
			continue
		}
		for _, sec := range sections(s) {
			if !k.allows(sec.field) {
				continue
			}
			undo := comp
			if sec.runs == plan.RunsOnUndo {
				undo = n
			}
			l.indexList(sec.steps, spath.Join(sec.path), section, n, undo)
		}
	}
}

func (l *linter) indexStep(n *stepNode) {
	s := n.step
	if s.ID.Set && !s.ID.bad {
		switch prev := l.steps[s.ID.Value]; {
		case !identRe.MatchString(s.ID.Value):
			l.r.errorf(CodeInvalidValue, s.ID.Pos, n.path.Field("id"), "step id %q must be lowercase letters, digits and underscores, starting with a letter", s.ID.Value)
		case prev != nil:
			l.r.errorf(CodeDuplicate, s.ID.Pos, n.path.Field("id"), "duplicate step id %q (first used at line %d)", s.ID.Value, prev.step.ID.Pos.Line)
		default:
			l.steps[s.ID.Value] = n
			l.stepIDs = append(l.stepIDs, s.ID.Value)
			for a := n; a != nil; a = a.parent {
				a.subtree = append(a.subtree, s.ID.Value)
			}
		}
	}
	kinds := kindsOf(s)
	switch len(kinds) {
	case 0:
		l.r.errorf(CodeRequired, s.Pos, n.path, "step %q does nothing; give it one of %s", s.ID.Value, kindNames())
		return
	case 1:
		n.kind = kinds[0].kind
	default:
		names := make([]string, len(kinds))
		for i, k := range kinds {
			names[i] = k.field
		}
		l.r.errorf(CodeConflict, s.Pos, n.path, "step %q has %s; a step does exactly one thing", s.ID.Value, strings.Join(names, " and "))
		return
	}
	kind := kinds[0]
	fields := setFields(s)
	for _, name := range plan.SortedKeys(fields) {
		if kind.allows(name) {
			continue
		}
		var owners []string
		for _, k := range stepKinds {
			if k.field == name || slices.Contains(k.fields, name) {
				owners = append(owners, string(k.kind))
			}
		}
		owner := "?"
		switch len(owners) {
		case 0:
		case 1:
			owner = owners[0]
		default:
			owner = strings.Join(owners[:len(owners)-1], ", ") + " or " + owners[len(owners)-1]
		}
		l.r.errorf(CodeNotAllowed, fields[name], n.path.Field(name), "%s is only valid on %s steps, not on a %s step", name, owner, n.kind)
	}
	n.outputs = plan.NoOutputs
	if kind.outputs != nil {
		n.outputs = kind.outputs(l, n)
	}
}

// child resolves a sub-runbook's plan, reporting when it cannot.
func (l *linter) child(sr *SubRunbook, path plan.Path) *plan.Plan {
	if !sr.Name.Set {
		return nil
	}
	name := sr.Name.Value
	if name == l.doc.Metadata.Name.Value {
		l.r.errorf(CodeCycle, sr.Name.Pos, path.Field("name"), "runbook %q cannot run itself", name)
		return nil
	}
	if p, ok := l.out.children[name]; ok {
		return p
	}
	var p *plan.Plan
	if l.opts.Runbooks != nil {
		p, _ = l.opts.Runbooks(name)
	}
	if p == nil {
		failed, cycle := false, false
		if l.opts.inSet != nil {
			failed, cycle = l.opts.inSet(name)
		}
		switch {
		case cycle: // reported once, as the cycle
		case failed:
			l.r.errorf(CodeInvalidRunbook, sr.Name.Pos, path.Field("name"), "runbook %q has errors; fix them first", name)
		default:
			hint := "register it first, or validate it together with this file"
			if l.opts.RunbookNames != nil {
				var others []string
				for _, n := range l.opts.RunbookNames() {
					if n != l.doc.Metadata.Name.Value {
						others = append(others, n)
					}
				}
				if h := plan.SuggestName(name, others); h != "" {
					hint = h
				}
			}
			l.r.hinted(CodeUnknownRunbook, sr.Name.Pos, path.Field("name"), hint, "unknown runbook %q", name)
		}
		return nil
	}
	l.out.children[name] = p
	return p
}

// stepCtx is what the steps of one list share.
type stepCtx struct {
	env      *cel.Env
	loopVars []string
	guards   guards // status checks made by enclosing ifs
	taint    taint  // the params each loop variable comes from
}

func (l *linter) lintAllSteps() {
	spec := &l.doc.Spec
	main := visibility{}
	l.lintList(spec.Steps.Items, "spec.steps", main, &stepCtx{env: l.env})
	if len(spec.Steps.Items) == 0 && spec.Steps.Set && !spec.Steps.bad {
		l.r.errorf(CodeRequired, spec.Steps.Pos, "spec.steps", "a runbook needs at least one step")
	}
	l.afterMain = main
	later := visibility{}
	for id := range main {
		later[id] = maybeNotRun
	}
	onFail := later.clone()
	errEnv := l.withVar(l.env, plan.VarError, l.types.CelType(plan.ErrorType, "runbook.error"))
	l.lintList(spec.OnFailure.Items, "spec.onFailure", onFail, &stepCtx{env: errEnv})
	for id := range onFail {
		later[id] = maybeNotRun
	}
	l.lintList(spec.Finally.Items, "spec.finally", later, &stepCtx{env: l.env})
}

// lintList checks steps in sequence, adding each to vis once it is done.
func (l *linter) lintList(steps []*Step, path plan.Path, vis visibility, ctx *stepCtx) {
	for i, s := range steps {
		l.lintStep(s, path.Index(i), vis, ctx)
	}
	l.warnUnreachable(steps, path)
}

// checkExitPlace allows exit among the main steps and in their groups,
// where "the rest of the run" is clear.
func (l *linter) checkExitPlace(n *stepNode, path plan.Path) {
	where := ""
	switch {
	case n.compOf != nil:
		where = "a compensation"
	case n.section != "spec.steps" && n.section != "":
		where = strings.TrimPrefix(n.section, "spec.")
	}
	for p := n.parent; p != nil && where == ""; p = p.parent {
		if p.kind == plan.StepParallel || p.kind == plan.StepForEach {
			where = "a " + string(p.kind)
		}
	}
	if where != "" {
		l.r.hinted(CodeNotAllowed, n.step.Exit.Pos, path.Field("exit"), "use if on the steps to skip instead",
			"exit ends the whole run; it is not allowed in %s", where)
	}
}

func (l *linter) nodeOf(s *Step) *stepNode {
	if n := l.nodes[s]; n != nil {
		return n
	}
	return &stepNode{step: s, id: s.ID.Value}
}

// scope is the expression scope of a step's own fields.
func (ctx *stepCtx) scope(vis visibility, n *stepNode, field string) *exprScope {
	return &exprScope{env: ctx.env, vis: vis, from: n, field: field, guards: ctx.guards, vars: true, taint: ctx.taint}
}

// lintStep checks one step with vis as what is readable before it, then
// records in vis what is readable after it.
func (l *linter) lintStep(s *Step, path plan.Path, vis visibility, ctx *stepCtx) {
	n := l.nodeOf(s)
	if s.If.Set {
		if e, _ := l.checkExpr(s.If.Value, stringSite(&s.If), path.Field("if"), ctx.scope(vis, n, "if"), plan.BoolType); e != nil {
			l.out.exprs[&s.If] = e
			if t := l.tests[e]; len(t.statuses) > 0 || len(t.has) > 0 {
				inner := *ctx
				inner.guards = ctx.guards.with(t.statuses)
				for _, p := range t.has {
					inner.guards = inner.guards.with([]string{hasGuard(p)})
				}
				ctx = &inner
			}
		}
	}
	if k := kindOf(n.kind); k != nil {
		k.lint(l, s, n, path, vis, ctx)
		if k.allows("onStepFailure") {
			l.lintOnStepFailure(s.OnStepFailure, n, path.Field("onStepFailure"), ctx.scope(vis, n, "onStepFailure"))
		}
	}
	if !s.ID.Set || l.steps[s.ID.Value] != n {
		return
	}
	vis[n.id] = finished
	if n.conditional() {
		// A skipped or failed step leaves itself and everything inside unsure.
		for id, c := range vis {
			if c < maybeSkipped && (id == n.id || n.encloses(l.steps[id])) {
				vis[id] = maybeSkipped
			}
		}
	}
}

// lintGroup checks a sequential group.
func (l *linter) lintGroup(s *Step, path plan.Path, vis visibility, ctx *stepCtx) {
	if len(s.Steps.Items) == 0 {
		l.r.errorf(CodeRequired, s.Steps.Pos, path.Field("steps"), "a group needs at least one step")
	}
	l.lintList(s.Steps.Items, path.Field("steps"), vis, ctx)
}

// lintExit checks an exit step and its message.
func (l *linter) lintExit(s *Step, n *stepNode, path plan.Path, vis visibility, ctx *stepCtx) {
	l.checkExitPlace(n, path)
	if m := s.Exit.Message; m.Set() {
		if v := l.checkValue(m.Node, plan.StringType, path.Field("exit", "message"), ctx.scope(vis, n, "exit.message")); v != nil {
			l.out.values[m.Node] = v
		}
	}
}
