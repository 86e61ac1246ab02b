package runbooks

import (
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/opsrunbook/runbook/plan"

	"github.com/google/cel-go/cel"
	"gopkg.in/yaml.v3"
)

// MaxForEachConcurrency bounds forEach.maxConcurrency.
const MaxForEachConcurrency = 100

var percentRe = regexp.MustCompile(`^([0-9]{1,3}(?:\.[0-9]+)?)%$`)

func (l *linter) lintParallel(s *Step, path plan.Path, vis visibility, ctx *stepCtx) {
	branches := s.Parallel.Items
	if len(branches) == 0 {
		l.r.errorf(CodeRequired, s.Parallel.Pos, path.Field("parallel"), "parallel needs at least one branch")
	} else if len(branches) == 1 {
		l.r.warnf(CodeNoEffect, s.Parallel.Pos, path.Field("parallel"), "parallel with one branch runs nothing in parallel")
	}
	// Siblings are not readable from a branch: each branch's steps leave
	// vis before the next branch is checked, and all return afterwards.
	done := visibility{}
	for i, b := range branches {
		l.lintStep(b, path.Field("parallel").Index(i), vis, ctx)
		for id, c := range vis.take(l.subtree(b)) {
			done[id] = c
		}
	}
	for id, c := range done {
		vis[id] = c
	}
}

// subtree lists the ids of a step and of every step inside it.
func (l *linter) subtree(s *Step) []string {
	if n := l.nodes[s]; n != nil {
		return n.subtree
	}
	return nil
}

func (l *linter) lintForEach(s *Step, n *stepNode, path plan.Path, vis visibility, ctx *stepCtx) {
	fsc := ctx.scope(vis, n, "forEach")
	e, out := l.checkExpr(s.ForEach.Value, stringSite(&s.ForEach), path.Field("forEach"), fsc, plan.ListOf(plan.AnyType))
	if e != nil {
		l.out.exprs[&s.ForEach] = e
	}
	l.count(&s.MaxConcurrency, path.Field("maxConcurrency"), 1, MaxForEachConcurrency, ctx.scope(vis, n, "maxConcurrency"))
	l.maxErrors(&s.MaxErrors, path.Field("maxErrors"), ctx.scope(vis, n, "maxErrors"))
	l.count(&s.BatchSize, path.Field("batchSize"), 1, plan.MaxListItems, ctx.scope(vis, n, "batchSize"))
	// A bad loop variable or a missing body is reported, but the body is
	// still checked, so that all its problems show at once. A variable
	// that cannot be bound is left out of the body's scope.
	as, bind := DefaultLoopVar, true
	if s.As.Set {
		as = s.As.Value
		switch {
		case !identRe.MatchString(as):
			l.r.errorf(CodeInvalidValue, s.As.Pos, path.Field("as"), "loop variable %q must be lowercase letters, digits and underscores, starting with a letter", as)
			bind = false
		case slices.Contains(plan.ReservedNames, as):
			l.r.errorf(CodeInvalidValue, s.As.Pos, path.Field("as"), "loop variable %q shadows the reserved name %s", as, as)
			bind = false
		}
	}
	if bind && slices.Contains(ctx.loopVars, as) {
		at := s.As.Pos
		if !s.As.Set {
			at = s.ForEach.Pos
		}
		l.r.hinted(CodeInvalidValue, at, path.Field("as"), "name it with as", "loop variable %q shadows the enclosing forEach's", as)
	}
	if len(s.Steps.Items) == 0 {
		at := s.Steps.Pos
		if !s.Steps.Set {
			at = s.Pos
		}
		l.r.errorf(CodeRequired, at, path.Field("steps"), "forEach needs a steps body")
	}
	elem := cel.DynType
	if out != nil && len(out.Parameters()) == 1 {
		elem = out.Parameters()[0]
	}
	body := &stepCtx{env: ctx.env, loopVars: ctx.loopVars, guards: ctx.guards, taint: ctx.taint}
	if bind {
		body.env = l.withVar(ctx.env, as, elem)
		body.loopVars = append(slices.Clone(ctx.loopVars), as)
		body.taint = ctx.taint.with(as, l.flowParams(s.ForEach.Value, fsc))
	}
	l.lintList(s.Steps.Items, path.Field("steps"), vis, body)
	bodyDone := visibility{}
	for _, b := range s.Steps.Items {
		for id := range vis.take(l.subtree(b)) { // the body's steps stay inside the loop
			bodyDone[id] = maybeNotRun
		}
	}
	if s.OnError.Set {
		// onError runs for an item whose body failed somewhere: its body
		// steps may or may not have run, and error says where it failed.
		rescue := &stepCtx{env: l.withVar(body.env, plan.VarError, l.types.CelType(plan.ErrorType, "runbook.error")), loopVars: body.loopVars, guards: ctx.guards, taint: body.taint}
		for id, c := range bodyDone {
			vis[id] = c
		}
		l.lintList(s.OnError.Items, path.Field("onError"), vis, rescue)
		vis.take(bodyDone.keys())
		for _, b := range s.OnError.Items {
			vis.take(l.subtree(b))
		}
	}
}

// count checks an int field that may be a ${{ }} expression.
func (l *linter) count(r *Raw, path plan.Path, lo, hi int, sc *exprScope) {
	if !r.Set() {
		return
	}
	n := r.Node
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" && hasTemplate(n.Value) {
		v := l.checkValue(n, plan.IntType, path, sc)
		if v == nil {
			return
		}
		if !v.IsExpr() {
			l.r.hinted(CodeExprSyntax, r.Pos, path, `write "${{ expression }}" and nothing else`, "a count expression must be one whole template")
			return
		}
		l.out.counts[n] = plan.Count{Expr: v.Expr}
		return
	}
	v, ok := l.literal(n, plan.IntType, path)
	if !ok {
		return
	}
	if c := v.(int64); c < int64(lo) || c > int64(hi) {
		l.r.errorf(CodeInvalidValue, r.Pos, path, "must be between %d and %d, got %d", lo, hi, c)
		return
	}
	l.out.counts[n] = plan.Count{N: int(v.(int64))}
}

// maxErrors checks a failure budget: a count (or a count expression), or
// a percentage like 10%.
func (l *linter) maxErrors(r *Raw, path plan.Path, sc *exprScope) {
	if !r.Set() {
		return
	}
	n := r.Node
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" && hasTemplate(n.Value) {
		l.count(r, path, 0, plan.MaxListItems, sc)
		if c, ok := l.out.counts[n]; ok {
			l.out.maxErrors[n] = &plan.MaxErrors{Count: c}
		}
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		m := percentRe.FindStringSubmatch(strings.TrimSpace(n.Value))
		p, err := 0.0, error(nil)
		if m != nil {
			p, err = strconv.ParseFloat(m[1], 64)
		}
		if m == nil || err != nil || p > 100 {
			l.r.hinted(CodeInvalidValue, r.Pos, path, "a count such as 3, a percentage of the items such as 10%, or a ${{ }} expression", "invalid maxErrors %q", n.Value)
			return
		}
		l.out.maxErrors[n] = &plan.MaxErrors{Percent: p}
		return
	}
	v, ok := l.literal(n, plan.IntType, path)
	if !ok {
		return
	}
	if c := v.(int64); c < 0 {
		l.r.errorf(CodeInvalidValue, r.Pos, path, "maxErrors must be 0 or more, got %d", c)
		return
	}
	l.out.maxErrors[n] = &plan.MaxErrors{Count: plan.Count{N: int(v.(int64))}}
}

func (l *linter) lintSubRunbook(sr *SubRunbook, path plan.Path, sc *exprScope) {
	child := l.out.children[sr.Name.Value]
	if child == nil {
		return
	}
	given := map[string]bool{}
	for i := range sr.Params.Entries {
		e := &sr.Params.Entries[i]
		epath := path.Field("params").Key(e.Key)
		var p *plan.Param
		for j := range child.Params {
			if child.Params[j].Name == e.Key {
				p = &child.Params[j]
			}
		}
		if p == nil {
			names := make([]string, len(child.Params))
			for j, cp := range child.Params {
				names[j] = cp.Name
			}
			l.r.hinted(CodeUnknownParam, e.KeyPos, epath, plan.Suggest(e.Key, names), "runbook %s has no param %q", child.Name, e.Key)
			continue
		}
		given[e.Key] = true
		if p.Fixed {
			l.r.errorf(CodeNotAllowed, e.KeyPos, epath, "param %q is fixed by runbook %s and cannot be set", e.Key, child.Name)
			continue
		}
		if v := l.checkValue(e.Value.Node, p.Type, epath, sc); v != nil {
			if v.IsLiteral() {
				for _, msg := range plan.CheckConstraints(p, v.Lit) {
					l.r.errorf(CodeInvalidValue, e.Value.Pos, epath, "%s", msg)
				}
			}
			l.out.values[e.Value.Node] = v
		}
	}
	for _, p := range child.Params {
		if p.Required && !p.HasDefault && !given[p.Name] {
			at := sr.Params.Pos
			if !sr.Params.Set {
				at = sr.Pos
			}
			l.r.errorf(CodeRequired, at, path.Field("params"), "runbook %s needs param %q", child.Name, p.Name)
		}
	}
}
