package runbooks

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/opsrunbook/runbook/plan"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"gopkg.in/yaml.v3"
)

// exprTests is what an expression tests: the steps whose status it reads and
// the paths it tests with has(), alone or as a conjunct. The steps an `if`
// guards may read what it tested.
type exprTests struct{ statuses, has []string }

// exprScope says what an expression may read.
type exprScope struct {
	env     *cel.Env
	vis     visibility // readable steps; nil where steps are out of scope
	from    *stepNode  // the step the expression belongs to
	secrets bool       // secrets.NAME is readable (action with templates)
	field   string     // how messages name the field, e.g. "concurrency.key"
	guards  guards     // steps whose status an enclosing if already checks
	vars    bool       // vars.NAME is readable
	taint   taint      // loop variables and the params they come from
}

// guards are step ids whose status was checked; reading their outputs
// then needs no warning.
type guards map[string]bool

func (g guards) with(ids []string) guards {
	if len(ids) == 0 {
		return g
	}
	out := make(guards, len(g)+len(ids))
	for id := range g {
		out[id] = true
	}
	for _, id := range ids {
		out[id] = true
	}
	return out
}

// exprSite locates an expression's text in the file.
type exprSite struct {
	pos    plan.Pos
	style  yaml.Style
	multi  bool
	offset int // byte offset of the expression in the scalar's value
	// For a block scalar (| or >), its value, the file and the expression's
	// text, with which at finds each position in the block's own lines.
	value string
	file  []byte
	expr  string
}

func stringSite(s *String) exprSite {
	return exprSite{pos: s.Pos, style: s.style, multi: s.multi, value: s.Value}
}

func nodeSite(n *yaml.Node) exprSite {
	return exprSite{pos: posOf(n), style: n.Style, multi: n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0, value: n.Value}
}

// at maps a CEL location (1-based line, 0-based column) to the file.
func (s exprSite) at(line, col int) plan.Pos {
	if s.multi {
		if p, ok := s.inBlock(line, col); ok {
			return p
		}
		return plan.Pos{Line: s.pos.Line + line, Col: col + 1}
	}
	if line > 1 {
		return plan.Pos{Line: s.pos.Line + line - 1, Col: col + 1}
	}
	quote := 0
	if s.style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
		quote = 1
	}
	return plan.Pos{Line: s.pos.Line, Col: s.pos.Col + quote + s.offset + col}
}

// inBlock finds a CEL location in the lines of a block scalar. Folding
// (>) joins the lines with spaces and every block drops its indentation, so
// the location's offset in the value is matched against each content line
// in turn.
func (s exprSite) inBlock(line, col int) (plan.Pos, bool) {
	if s.file == nil {
		return plan.Pos{}, false
	}
	exprLines := strings.SplitAfter(s.expr, "\n")
	if line < 1 || line > len(exprLines) {
		return plan.Pos{}, false
	}
	prefix := strings.Join(exprLines[:line-1], "")
	off := s.offset + len(prefix) + len(string([]rune(exprLines[line-1])[:min(col, len([]rune(exprLines[line-1])))]))
	value := s.value
	fileLines := strings.Split(string(s.file), "\n")
	indent, cursor := -1, 0
	for i := s.pos.Line; i < len(fileLines); i++ { // the block starts on the line after its indicator
		text := strings.TrimRight(fileLines[i], "\r")
		if strings.TrimSpace(text) == "" {
			continue
		}
		ind := len(text) - len(strings.TrimLeft(text, " "))
		if indent < 0 {
			indent = ind
		} else if ind < indent {
			break
		}
		content := text[indent:]
		p := strings.Index(value[cursor:], content)
		if p < 0 {
			return plan.Pos{}, false
		}
		start := cursor + p
		if off >= start && off <= start+len(content) {
			return plan.Pos{Line: i + 1, Col: indent + utf8.RuneCountInString(content[:off-start]) + 1}, true
		}
		cursor = start + len(content)
	}
	return plan.Pos{}, false
}

// templated reports whether a bare CEL source is one whole ${{ }}
// template, and returns what it holds with its byte offset.
func templated(src string) (string, int, bool) {
	t := strings.TrimSpace(src)
	if !strings.HasPrefix(t, "${{") || !strings.HasSuffix(t, "}}") || len(t) < 5 {
		return "", 0, false
	}
	at := strings.Index(src, "${{") + 3
	return src[at:strings.LastIndex(src, "}}")], at, true
}

// varRef is a chain of field selections rooted at a variable: steps.x.outputs.y.
type varRef struct {
	root string
	path []string
	ids  []int64 // ids[0] is the identifier, ids[i] the selection of path[i-1]
	// safe[i] tells that path[:i+1] is only tested (has(...)) or read where
	// has() of it holds: in the right of `has(x) && ...`, the then-branch of
	// `has(x) ? ... : ...`, or the right of `!has(x) || ...`.
	safe []bool
}

func collectRefs(a *celast.AST) []varRef {
	var refs []varRef
	root := celast.NavigateAST(a)
	for _, ident := range celast.MatchDescendants(root, celast.KindMatcher(celast.IdentKind)) {
		r := varRef{root: ident.AsIdent(), ids: []int64{ident.ID()}}
		cur := ident
		for {
			p, ok := cur.Parent()
			if !ok || p.Kind() != celast.SelectKind || p.AsSelect().Operand().ID() != cur.ID() {
				break
			}
			r.path = append(r.path, p.AsSelect().FieldName())
			r.ids = append(r.ids, p.ID())
			r.safe = append(r.safe, p.AsSelect().IsTestOnly() || hasGuarded(p))
			cur = p
		}
		refs = append(refs, r)
	}
	return refs
}

// selectPath renders a chain of selections rooted at an identifier
// (params.x.y), or "" for anything else.
func selectPath(e celast.Expr) string {
	switch e.Kind() {
	case celast.IdentKind:
		return e.AsIdent()
	case celast.SelectKind:
		if p := selectPath(e.AsSelect().Operand()); p != "" {
			return p + "." + e.AsSelect().FieldName()
		}
	}
	return ""
}

// tests reports whether cond, or a conjunct of it, is has(path) (negated
// when neg: !has(path), or a disjunct of it).
func tests(cond celast.Expr, path string, neg bool) bool {
	if cond.Kind() == celast.SelectKind && cond.AsSelect().IsTestOnly() && !neg {
		sel := cond.AsSelect()
		return selectPath(sel.Operand())+"."+sel.FieldName() == path
	}
	if cond.Kind() != celast.CallKind {
		return false
	}
	call := cond.AsCall()
	switch {
	case call.FunctionName() == "!_" && neg:
		return tests(call.Args()[0], path, false)
	case call.FunctionName() == "_&&_" && !neg, call.FunctionName() == "_||_" && neg:
		return tests(call.Args()[0], path, neg) || tests(call.Args()[1], path, neg)
	}
	return false
}

// hasConjuncts lists the paths P that e tests as has(P), alone or as a
// conjunct: where e holds, each of them is present.
func hasConjuncts(e celast.Expr) []string {
	switch {
	case e.Kind() == celast.SelectKind && e.AsSelect().IsTestOnly():
		if p := selectPath(e.AsSelect().Operand()); p != "" {
			return []string{p + "." + e.AsSelect().FieldName()}
		}
	case e.Kind() == celast.CallKind && e.AsCall().FunctionName() == "_&&_":
		return append(hasConjuncts(e.AsCall().Args()[0]), hasConjuncts(e.AsCall().Args()[1])...)
	}
	return nil
}

// hasGuard is the guards key of a path that an enclosing if tests with has().
func hasGuard(path string) string { return "has:" + path }

// hasGuarded reports whether the selection n is read only where has() of
// it holds, by the rules of varRef.safe.
func hasGuarded(n celast.NavigableExpr) bool {
	path := selectPath(n)
	for cur := n; ; {
		p, ok := cur.Parent()
		if !ok {
			return false
		}
		if p.Kind() == celast.CallKind {
			call, args := p.AsCall(), p.AsCall().Args()
			switch {
			case call.FunctionName() == "_&&_" && len(args) == 2 && args[1].ID() == cur.ID() && tests(args[0], path, false),
				call.FunctionName() == "_?_:_" && len(args) == 3 && args[1].ID() == cur.ID() && tests(args[0], path, false),
				call.FunctionName() == "_||_" && len(args) == 2 && args[1].ID() == cur.ID() && tests(args[0], path, true):
				return true
			}
		}
		cur = p
	}
}

// checkExpr parses, checks references, and type-checks one expression.
// want is the type the value must have (nil: anything). It reports every
// problem and returns nil when there was one.
func (l *linter) checkExpr(src string, site exprSite, path plan.Path, sc *exprScope, want *plan.Type) (*plan.Expr, *cel.Type) {
	if site.multi {
		site.file, site.expr = l.out.src, src
	}
	if inner, at, ok := templated(src); ok {
		// ${{ }} is never CEL; say so once, then check what it holds.
		field := strings.TrimPrefix(string(path), "spec.")
		if i := strings.LastIndex(string(path), "]."); i >= 0 {
			field = string(path[i+2:])
		}
		l.r.errorf(CodeExprSyntax, site.at(1, 0), path, "`%s` is bare CEL: drop `${{ }}`", field)
		inSite := site
		inSite.offset += at
		l.checkExpr(inner, inSite, path, sc, want)
		return nil, nil
	}
	report := func(code Code, iss *cel.Issues) {
		for _, e := range iss.Errors() {
			l.r.errorf(code, site.at(e.Location.Line(), e.Location.Column()), path, "%s", celMessage(e.Message))
		}
	}
	pe := l.parse(src)
	if pe.iss.Err() != nil {
		report(CodeExprSyntax, pe.iss)
		return nil, nil
	}
	expr := &plan.Expr{Src: src, Pos: site.at(1, 0)}
	info := pe.ast.NativeRep().SourceInfo()
	posOfID := func(id int64) plan.Pos {
		loc := info.GetStartLocation(id)
		return site.at(loc.Line(), loc.Column())
	}
	tests := &exprTests{}
	l.tests[expr] = tests
	for _, r := range pe.refs {
		if r.root == plan.VarSteps && len(r.path) >= 2 && r.path[1] == "status" {
			tests.statuses = appendUnique(tests.statuses, r.path[0])
		}
	}
	for _, p := range hasConjuncts(pe.ast.NativeRep().Expr()) {
		tests.has = appendUnique(tests.has, p)
	}
	ok := true
	for _, r := range pe.refs {
		if !l.checkRef(r, sc, path, posOfID, expr) {
			ok = false
		}
	}
	if !ok {
		return nil, nil
	}
	ce := l.check(sc.env, src, pe)
	if ce.iss.Err() != nil {
		report(CodeExprType, ce.iss)
		return nil, nil
	}
	if ce.cost > plan.MaxEstimatedCost {
		l.r.hinted(CodeExprCost, expr.Pos, path, fmt.Sprintf("lists count as up to %d items and strings as up to %d bytes; JSON values reached through a loop over JSON as up to %d", plan.MaxListItems, plan.MaxStringSize, plan.MaxNestedItems),
			"expression is too expensive: its worst case costs %d, the limit is %d", ce.cost, plan.MaxEstimatedCost)
		return nil, nil
	}
	out := ce.out
	if want != nil && !l.types.Assignable(out, want) {
		l.r.errorf(CodeExprType, expr.Pos, path, "must be %s, but the expression is %s", typeName(want), l.types.DescribeCEL(out))
		return nil, nil
	}
	sort.Strings(expr.Steps)
	sort.Strings(expr.Secrets)
	return expr, out
}

// checkRef applies the reference rules to params, steps and secrets.
func (l *linter) checkRef(r varRef, sc *exprScope, path plan.Path, posOfID func(int64) plan.Pos, expr *plan.Expr) bool {
	at := func(i int) plan.Pos {
		p := posOfID(r.ids[min(i, len(r.ids)-1)])
		if i > 0 {
			p.Col++ // a selection starts at its dot; point at the name
		}
		return p
	}
	switch r.root {
	case plan.VarParams:
		if len(r.path) == 0 {
			break
		}
		p := l.paramByName(r.path[0])
		if p == nil {
			l.r.hinted(CodeUnknownParam, at(1), path, plan.Suggest(r.path[0], l.paramNames()), "unknown param %q", r.path[0])
			return false
		}
		if !p.Required && !p.HasDefault && !r.safe[0] && !sc.guards[hasGuard("params."+p.Name)] {
			l.r.hinted(CodeMaybeAbsent, at(1), path, fmt.Sprintf("give it a default, or read it where has(params.%s) holds, or as params.?%s.orValue(...)", p.Name, p.Name),
				"param %q is optional and has no default, so a run may not have it", p.Name)
			return false
		}
	case plan.VarSecrets:
		if !sc.secrets {
			l.r.hinted(CodeScope, at(0), path, "pass the secret to an action input, where it is resolved inside the worker",
				"secrets can only be read inside action with templates, not in %s", sc.field)
			return false
		}
		if len(r.path) == 0 {
			l.r.errorf(CodeScope, at(0), path, "read one secret at a time, as secrets.NAME")
			return false
		}
		if !l.secrets[r.path[0]] {
			l.r.hinted(CodeUnknownSecret, at(1), path, plan.Suggest(r.path[0], l.secretNames()), "secret %q is not declared in spec.secrets", r.path[0])
			return false
		}
		expr.Secrets = appendUnique(expr.Secrets, r.path[0])
	case plan.VarVars:
		return l.checkVarRef(r, sc, path, at, expr)
	case plan.VarSteps:
		if sc.vis == nil {
			l.r.errorf(CodeScope, at(0), path, "%s cannot read steps", sc.field)
			return false
		}
		if len(r.path) == 0 {
			l.r.errorf(CodeScope, at(0), path, "read one step at a time, as steps.ID")
			return false
		}
		return l.checkStepRef(r, sc, path, at, expr)
	}
	return true
}

func (l *linter) checkStepRef(r varRef, sc *exprScope, path plan.Path, at func(int) plan.Pos, expr *plan.Expr) bool {
	id := r.path[0]
	node := l.steps[id]
	if node == nil {
		l.r.hinted(CodeUnknownStep, at(1), path, plan.Suggest(id, l.stepIDs), "unknown step %q", id)
		return false
	}
	seen, visible := sc.vis[id]
	if !visible {
		l.r.errorf(CodeScope, at(1), path, "%s", whyHidden(sc.from, node))
		return false
	}
	expr.Steps = appendUnique(expr.Steps, id)
	if len(r.path) < 2 {
		return true
	}
	field := r.path[1]
	if _, ok := plan.StepType(plan.NoOutputs).Field(field); !ok {
		l.r.hinted(CodeUnknownOutput, at(2), path, plan.Suggest(field, plan.StepType(plan.NoOutputs).FieldNames()), "steps.%s has no field %q", id, field)
		return false
	}
	if field != "outputs" || len(r.path) < 3 {
		return true
	}
	out := r.path[2]
	if node.outputs != nil && node.outputs.Kind == plan.KindObject {
		if _, ok := node.outputs.Field(out); !ok {
			what := string(node.kind) + " step"
			if node.kind == plan.StepAction {
				what = fmt.Sprintf("action %s", node.step.Action.Value)
			}
			hint := plan.Suggest(out, node.outputs.FieldNames())
			if hint == "" && len(node.outputs.Fields) > 0 {
				hint = "outputs: " + strings.Join(node.outputs.FieldNames(), ", ")
			}
			l.r.hinted(CodeUnknownOutput, at(3), path, hint, "step %q (%s) has no output %q", id, what, out)
			return false
		}
	}
	if node.kind == plan.StepApproval && out == "inputs" && len(r.path) >= 4 {
		for _, in := range node.step.Approval.Inputs.Items {
			if in == nil || in.Name.Value != r.path[3] {
				continue
			}
			ref := "steps." + id + ".outputs.inputs." + in.Name.Value
			if !in.Required.Value && !in.Default.Set() && !r.safe[3] && !sc.guards[hasGuard(ref)] {
				l.r.hinted(CodeMaybeAbsent, at(4), path, fmt.Sprintf("give it a default, or read it where has(%s) holds", ref),
					"approval input %q is optional and has no default, so a vote may not have it", in.Name.Value)
				return false
			}
			break // the first declaration counts; a duplicate is reported as such
		}
	}
	if sc.guards[id] || slices.Contains(l.tests[expr].statuses, id) {
		return true
	}
	switch seen {
	case maybeSkipped:
		l.r.warnf(CodeMaybeAbsent, at(1), path, "steps.%s may have been skipped or failed, so its outputs may be missing; check steps.%s.status first", id, id)
	case maybeNotRun:
		l.r.warnf(CodeMaybeAbsent, at(1), path, "steps.%s may not have run when %s runs; check steps.%s.status first", id, sectionOf(sc.from), id)
	}
	return true
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// celMessage trims cel-go's boilerplate from a checker message.
func celMessage(m string) string {
	m = strings.TrimSuffix(m, " (in container '')")
	return strings.TrimPrefix(m, "Syntax error: ")
}

// checkValue checks a with-style value against t: literals against the
// type, ${{ }} templates by type-checking their expressions. It returns the
// compiled Value, or nil after reporting problems.
func (l *linter) checkValue(n *yaml.Node, t *plan.Type, path plan.Path, sc *exprScope) *plan.Value {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if t == nil {
		t = plan.AnyType
	}
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!str" && hasTemplate(n.Value):
		return l.checkTemplate(n, t, path, sc)
	case n.Kind == yaml.SequenceNode && (t.Kind == plan.KindList || t.Kind == plan.KindAny):
		elem := t.Elem
		if t.Kind == plan.KindAny {
			elem = plan.AnyType
		}
		v := &plan.Value{Kind: plan.ValueList, List: make([]*plan.Value, len(n.Content))}
		ok := true
		for i, c := range n.Content {
			if v.List[i] = l.checkValue(c, elem, path.Index(i), sc); v.List[i] == nil {
				ok = false
			}
		}
		return collapse(v, ok)
	case n.Kind == yaml.MappingNode && (t.Kind == plan.KindMap || t.Kind == plan.KindObject || t.Kind == plan.KindAny):
		return l.checkMapping(n, t, path, sc)
	}
	pos := map[plan.Path]plan.Pos{}
	raw, err := nodeValue(n, "", pos)
	if err != nil {
		l.r.errorf(codeOf(err), posOf(n), path, "%v", err)
		return nil
	}
	var probs []plan.ValueProblem
	val := plan.CoerceProblems(raw, t, "", &probs)
	for _, p := range probs {
		l.r.errorf(problemCode(p), pos[p.Sub], path.Join(p.Sub), "%s", p.Msg)
	}
	if len(probs) > 0 {
		return nil
	}
	return plan.LitValue(val)
}

func (l *linter) checkMapping(n *yaml.Node, t *plan.Type, path plan.Path, sc *exprScope) *plan.Value {
	v := &plan.Value{Kind: plan.ValueMap, Map: map[string]*plan.Value{}}
	ok := true
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
			l.r.errorf(CodeTypeMismatch, posOf(k), path, "mapping keys must be plain strings")
			ok = false
			continue
		}
		kpath := path.Key(k.Value)
		if seen[k.Value] {
			l.r.errorf(CodeDuplicate, posOf(k), kpath, "duplicate key %q", k.Value)
			ok = false
			continue
		}
		seen[k.Value] = true
		elem := t.Elem
		switch t.Kind {
		case plan.KindAny:
			elem = plan.AnyType
		case plan.KindObject:
			f, known := t.Field(k.Value)
			if !known {
				l.r.hinted(CodeUnknownField, posOf(k), kpath, plan.Suggest(k.Value, t.FieldNames()), "unknown field %q", k.Value)
				ok = false
				continue
			}
			elem = f.Type
		}
		if v.Map[k.Value] = l.checkValue(val, elem, kpath, sc); v.Map[k.Value] == nil {
			ok = false
		}
	}
	if t.Kind == plan.KindObject {
		for _, f := range t.Fields {
			if f.Required && !seen[f.Name] {
				l.r.errorf(CodeRequired, posOf(n), path, "missing required field %q", f.Name)
				ok = false
			}
		}
	}
	return collapse(v, ok)
}

func (l *linter) checkTemplate(n *yaml.Node, t *plan.Type, path plan.Path, sc *exprScope) *plan.Value {
	site := nodeSite(n)
	parts, err := parseTemplate(n.Value)
	if err != nil {
		l.r.errorf(CodeExprSyntax, site.pos, path, "%v", err)
		return nil
	}
	if len(parts) == 1 && parts[0].isExpr {
		site.offset = parts[0].offset
		expr, _ := l.checkExpr(parts[0].expr, site, path, sc, t)
		if expr == nil {
			return nil
		}
		return &plan.Value{Kind: plan.ValueExpr, Expr: expr}
	}
	if t.Kind != plan.KindString && t.Kind != plan.KindAny {
		l.r.hinted(CodeExprType, site.pos, path, "make the template the whole value to keep its type",
			"expected %s, but text mixed with ${{ }} is a string", t)
		return nil
	}
	v := &plan.Value{Kind: plan.ValueTmpl}
	ok := true
	for _, p := range parts {
		if !p.isExpr {
			v.Tmpl = append(v.Tmpl, plan.TmplPart{Text: p.text})
			continue
		}
		site.offset = p.offset
		expr, out := l.checkExpr(p.expr, site, path, sc, nil)
		if expr == nil {
			ok = false
			continue
		}
		if !plan.Interpolatable(out) {
			l.r.hinted(CodeExprType, expr.Pos, path, textHint(out), "cannot put %s into text", l.types.DescribeCEL(out))
			ok = false
			continue
		}
		v.Tmpl = append(v.Tmpl, plan.TmplPart{Expr: expr})
	}
	if !ok {
		return nil
	}
	return v
}

// collapse turns a list or map without expressions into one literal.
func collapse(v *plan.Value, ok bool) *plan.Value {
	if !ok {
		return nil
	}
	switch v.Kind {
	case plan.ValueList:
		lit := make([]any, len(v.List))
		for i, e := range v.List {
			if !e.IsLiteral() {
				return v
			}
			lit[i] = e.Lit
		}
		return plan.LitValue(lit)
	case plan.ValueMap:
		lit := make(map[string]any, len(v.Map))
		for k, e := range v.Map {
			if !e.IsLiteral() {
				return v
			}
			lit[k] = e.Lit
		}
		return plan.LitValue(lit)
	}
	return v
}

// typeName names a wanted type in messages: "a bool", "a list", "list<string>".
func typeName(t *plan.Type) string {
	switch t.Kind {
	case plan.KindString:
		return "a string"
	case plan.KindInt:
		return "an int"
	case plan.KindNumber:
		return "a number"
	case plan.KindBool:
		return "a bool"
	case plan.KindDuration:
		return "a duration"
	case plan.KindTimestamp:
		return "a timestamp"
	case plan.KindList:
		if t.Elem == nil || t.Elem.Kind == plan.KindAny {
			return "a list"
		}
	case plan.KindMap:
		if t.Elem == nil || t.Elem.Kind == plan.KindAny {
			return "a map"
		}
	}
	return t.String()
}

// sectionOf names the section a step is in: steps, onFailure or finally.
func sectionOf(n *stepNode) string {
	if n == nil || n.section == "" {
		return "this step"
	}
	return strings.TrimPrefix(n.section, "spec.")
}

// parsedExpr is a parsed source, shared by every field that holds it.
type parsedExpr struct {
	ast   *cel.Ast
	iss   *cel.Issues
	refs  []varRef
	loops bool // has comprehensions, so its cost depends on sizes
}

// checkedExpr is a source checked in one environment.
type checkedExpr struct {
	out  *cel.Type
	iss  *cel.Issues
	cost uint64 // worst-case estimate; 0 without loops
}

type checkKey struct {
	env *cel.Env
	src string
}

// parse parses src once per lint, whatever the field it is in.
func (l *linter) parse(src string) *parsedExpr {
	if pe, ok := l.parsed[src]; ok {
		return pe
	}
	pe := parseExpr(l.env, src)
	l.parsed[src] = pe
	return pe
}

func parseExpr(env *cel.Env, src string) *parsedExpr {
	ast, iss := env.Parse(src)
	pe := &parsedExpr{ast: ast, iss: iss}
	if iss.Err() == nil {
		native := ast.NativeRep()
		pe.refs = collectRefs(native)
		pe.loops = len(celast.MatchDescendants(celast.NavigateAST(native), celast.KindMatcher(celast.ComprehensionKind))) > 0
	}
	return pe
}

// check type-checks a parsed source once per environment.
func (l *linter) check(env *cel.Env, src string, pe *parsedExpr) *checkedExpr {
	key := checkKey{env, src}
	if ce, ok := l.checked[key]; ok {
		return ce
	}
	checked, iss := env.Check(pe.ast)
	ce := &checkedExpr{iss: iss}
	if iss.Err() == nil {
		ce.out = checked.OutputType()
		if pe.loops {
			if est, err := env.EstimateCost(checked, plan.SizeBounds{}); err == nil {
				ce.cost = est.Max
			}
		}
	}
	l.checked[key] = ce
	return ce
}

// textHint says how to turn a value that is not text into text.
func textHint(t *cel.Type) string {
	if t.Kind() == types.ListKind && len(t.Parameters()) == 1 && t.Parameters()[0].Kind() == types.StringKind {
		return "use join() or json(), or make the template the whole value"
	}
	return "use json(), or make the template the whole value"
}
