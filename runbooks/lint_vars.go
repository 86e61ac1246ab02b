package runbooks

import (
	"github.com/opsrunbook/runbook/plan"
)

// varDecl is a var set by spec.vars (owner nil) or by a set step.
type varDecl struct {
	name  string
	pos   plan.Pos
	owner *stepNode
	typ   *plan.Type // known once its expression is checked
	// params are the params its value is computed from, for the flow rules.
	params []string
}

// declareVar records a var name, refusing bad and repeated names.
func (l *linter) declareVar(name string, pos plan.Pos, path plan.Path, owner *stepNode) {
	switch prev := l.vars[name]; {
	case !identRe.MatchString(name):
		l.r.errorf(CodeInvalidValue, pos, path, "var name %q must be lowercase letters, digits and underscores, starting with a letter", name)
	case prev != nil:
		l.r.errorf(CodeDuplicate, pos, path, "vars.%s is already set at line %d; a var is set in one place", name, prev.pos.Line)
	default:
		l.vars[name] = &varDecl{name: name, pos: pos, owner: owner}
	}
}

// declareSpecVars declares spec.vars before any step is indexed.
func (l *linter) declareSpecVars() {
	for _, e := range l.doc.Spec.Vars.Entries {
		l.declareVar(e.Key, e.KeyPos, plan.Path("spec.vars").Key(e.Key), nil)
	}
}

// declareSetVars declares the vars of a set step.
func (l *linter) declareSetVars(n *stepNode) {
	if n.step.Set.Len() == 0 {
		l.r.errorf(CodeRequired, n.step.Set.Pos, n.path.Field("set"), "set needs at least one name: CEL")
	}
	for _, e := range n.step.Set.Entries {
		l.declareVar(e.Key, e.KeyPos, n.path.Field("set").Key(e.Key), n)
	}
}

// typeVar checks a var's expression and makes vars.NAME readable with its type.
func (l *linter) typeVar(e *Entry[String], path plan.Path, sc *exprScope) {
	d := l.vars[e.Key]
	if d == nil || d.pos != e.KeyPos {
		return // a refused name, reported when declared
	}
	d.typ = plan.AnyType // on error, untyped, so readers get no second error
	d.params = l.flowParams(e.Value.Value, sc)
	if x, ct := l.checkExpr(e.Value.Value, stringSite(&e.Value), path, sc, nil); x != nil {
		l.out.exprs[&e.Value] = x
		d.typ = l.types.TypeOf(ct)
	}
	l.varsType.Fields = append(l.varsType.Fields, plan.Field{Name: d.name, Type: d.typ})
}

// lintSpecVars checks spec.vars: evaluated once at start over params and run.
func (l *linter) lintSpecVars() {
	sc := &exprScope{env: l.env, field: "spec.vars"}
	for i := range l.doc.Spec.Vars.Entries {
		e := &l.doc.Spec.Vars.Entries[i]
		l.typeVar(e, plan.Path("spec.vars").Key(e.Key), sc)
	}
}

// lintSet checks a set step's expressions, in order.
func (l *linter) lintSet(s *Step, n *stepNode, path plan.Path, sc *exprScope) {
	for i := range s.Set.Entries {
		e := &s.Set.Entries[i]
		l.typeVar(e, path.Key(e.Key), sc)
	}
}

// checkVarRef applies the reference rules to vars.NAME.
func (l *linter) checkVarRef(r varRef, sc *exprScope, path plan.Path, at func(int) plan.Pos, expr *plan.Expr) bool {
	if !sc.vars {
		l.r.errorf(CodeScope, at(0), path, "%s cannot read vars", sc.field)
		return false
	}
	if len(r.path) == 0 {
		l.r.errorf(CodeScope, at(0), path, "read one var at a time, as vars.NAME")
		return false
	}
	name := r.path[0]
	d := l.vars[name]
	if d == nil {
		l.r.hinted(CodeUnknownVar, at(1), path, plan.Suggest(name, plan.SortedKeys(l.vars)), "unknown var %q", name)
		return false
	}
	if d.owner == nil {
		return true
	}
	if d.owner == sc.from {
		l.r.hinted(CodeScope, at(1), path, "set it in an earlier step", "vars.%s is set by this same step", name)
		return false
	}
	seen, ok := sc.vis[d.owner.id]
	if !ok {
		l.r.errorf(CodeScope, at(1), path, "vars.%s is set by step %q: %s", name, d.owner.id, whyHidden(sc.from, d.owner))
		return false
	}
	expr.Steps = appendUnique(expr.Steps, d.owner.id)
	if seen != finished && !sc.guards[d.owner.id] {
		l.r.warnf(CodeMaybeAbsent, at(1), path, "vars.%s may not be set: step %q may have been skipped or not run; check steps.%s.status first", name, d.owner.id, d.owner.id)
	}
	return true
}

// lintAssert checks an assert step.
func (l *linter) lintAssert(a *Assert, path plan.Path, sc *exprScope) {
	if a.That.Set {
		if e, _ := l.checkExpr(a.That.Value, stringSite(&a.That), path.Field("that"), sc, plan.BoolType); e != nil {
			l.out.exprs[&a.That] = e
		}
	}
	if a.Message.Set() {
		if v := l.checkValue(a.Message.Node, plan.StringType, path.Field("message"), sc); v != nil {
			l.out.values[a.Message.Node] = v
		}
	}
}

// warnUnreachable warns about steps after an unconditional exit.
func (l *linter) warnUnreachable(steps []*Step, path plan.Path) {
	for i, s := range steps {
		if s.Exit != nil && !s.If.Set && i+1 < len(steps) {
			next := steps[i+1]
			l.r.warnf(CodeNoEffect, next.Pos, path.Index(i+1), "step %q never runs: step %q before it always exits", next.ID.Value, s.ID.Value)
			return
		}
	}
}
