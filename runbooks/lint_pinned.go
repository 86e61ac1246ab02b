package runbooks

import (
	"fmt"
	"path"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"

	"github.com/opsrunbook/runbook/plan"
)

// An operator chooses values, never code: whoever may start a run sets its
// params, so a param that reaches a program, a script, SQL or a path must
// be pinned by the author. These rules find where params flow.

// taint maps loop variables to the params their items come from.
type taint map[string][]string

func (t taint) with(name string, params []string) taint {
	out := make(taint, len(t)+1)
	for k, v := range t {
		out[k] = v
	}
	out[name] = params
	return out
}

// flowParams lists the params an expression's value is computed from:
// read directly, through vars, or through a forEach's loop variable.
func (l *linter) flowParams(src string, sc *exprScope) []string {
	var out []string
	add := func(names ...string) {
		for _, n := range names {
			out = appendUnique(out, n)
		}
	}
	for _, r := range l.parse(src).refs {
		switch {
		case r.root == plan.VarParams && len(r.path) > 0:
			add(r.path[0])
		case r.root == plan.VarParams: // the whole map
			add(l.paramNames()...)
		case r.root == plan.VarVars && len(r.path) > 0:
			if d := l.vars[r.path[0]]; d != nil {
				add(d.params...)
			}
		case sc != nil && sc.taint != nil:
			add(sc.taint[r.root]...)
		}
	}
	return out
}

// pinned reports whether a run cannot choose the param's value freely:
// it is fixed, limited to an enum or an anchored pattern, or of a type
// whose values cannot carry text (int, number, bool, duration).
func pinned(p *plan.Param) bool {
	if p.Fixed || len(p.Enum) > 0 || anchored(p.Pattern) {
		return true
	}
	t := p.Type
	if t != nil && t.Kind == plan.KindList {
		t = t.Elem
	}
	if t == nil {
		return false
	}
	switch t.Kind {
	case plan.KindInt, plan.KindNumber, plan.KindBool, plan.KindDuration:
		return true
	}
	return false
}

// anchored reports whether a pattern must match a whole value: every
// alternative starts at the beginning of the text and ends at its end.
func anchored(pattern string) bool {
	if pattern == "" {
		return false
	}
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return false
	}
	re = re.Simplify()
	return atEdge(re, syntax.OpBeginText) && atEdge(re, syntax.OpEndText)
}

// atEdge reports whether every match of re starts (OpBeginText) or ends
// (OpEndText) with that assertion.
func atEdge(re *syntax.Regexp, op syntax.Op) bool {
	switch re.Op {
	case op:
		return true
	case syntax.OpCapture:
		return atEdge(re.Sub[0], op)
	case syntax.OpConcat:
		if len(re.Sub) == 0 {
			return false
		}
		if op == syntax.OpBeginText {
			return atEdge(re.Sub[0], op)
		}
		return atEdge(re.Sub[len(re.Sub)-1], op)
	case syntax.OpAlternate:
		for _, s := range re.Sub {
			if !atEdge(s, op) {
				return false
			}
		}
		return true
	}
	return false
}

// anchor returns the anchored form of an unanchored pattern. Without
// alternatives, the anchor it had at one end goes inside the group.
func anchor(pattern string) string {
	inner := pattern
	if !strings.Contains(inner, "|") {
		inner = strings.TrimPrefix(inner, "^")
		if strings.HasSuffix(inner, "$") && !strings.HasSuffix(inner, `\$`) {
			inner = strings.TrimSuffix(inner, "$")
		}
	}
	return "^(?:" + inner + ")$"
}

// loose lists the params of names that a run may choose freely.
func (l *linter) loose(names []string) []string {
	var out []string
	for _, n := range names {
		if p := l.paramByName(n); p != nil && !pinned(p) {
			out = append(out, n)
		}
	}
	return out
}

// flow is one expression of an input's value and where it sits.
type flow struct {
	expr    *plan.Expr
	spliced bool // mixed with text in a template
	prefix  string
}

// flows lists the expressions of v with the text before each in its template.
func flows(v *plan.Value) []flow {
	var out []flow
	switch v.Kind {
	case plan.ValueExpr:
		out = append(out, flow{expr: v.Expr})
	case plan.ValueTmpl:
		var prefix strings.Builder
		for _, p := range v.Tmpl {
			if p.Expr == nil {
				prefix.WriteString(p.Text)
				continue
			}
			out = append(out, flow{expr: p.Expr, spliced: true, prefix: prefix.String()})
			prefix.WriteString("x") // an unknown value, not a separator
		}
	case plan.ValueList, plan.ValueMap:
		v.Exprs(func(e *plan.Expr) { out = append(out, flow{expr: e, spliced: true}) })
	}
	return out
}

const pinHint = "fix the value with fixed: true or a literal in spec.vars, or constrain it with enum or an anchored pattern"

// shells run their -c argument, or without one their standard input, as a
// script.
var shells = []string{"sh", "bash", "dash", "zsh", "ksh", "ash"}

// wrappers run a program named among their arguments.
var wrappers = []string{"env", "sudo", "doas", "su", "runuser", "nohup", "nice", "ionice", "timeout", "xargs", "exec",
	"setsid", "stdbuf", "chroot", "time", "busybox", "command", "flock", "strace", "taskset", "chrt", "unshare", "nsenter", "watch", "ssh"}

var dashC = regexp.MustCompile(`^-[a-zA-Z]*c[a-zA-Z]*$`)

// lintPinned applies the flow rules to one action input.
func (l *linter) lintPinned(f plan.Field, v *plan.Value, epath plan.Path, sc *exprScope) {
	switch f.Role {
	case plan.RoleCommand:
		l.lintCommand(v, f.Name, epath, sc)
	case plan.RoleCode:
		l.lintCode(v, epath, sc, "script", "pass it through env and read \"$NAME\" in the script")
	case plan.RoleSQL:
		l.lintCode(v, epath, sc, "SQL", "pass it in args and write $1, $2... in the SQL")
	case plan.RolePath:
		l.report(v, epath, sc, func(fl flow, p string) bool {
			l.r.hinted(CodeUnpinnedParam, fl.expr.Pos, epath, pinHint, "param %q reaches %s, a path, so a run chooses which files the action touches", p, f.Name)
			return true
		})
	case plan.RoleEnv:
		if v.Kind == plan.ValueMap {
			return // the names are the runbook's; params give values
		}
		l.report(v, epath, sc, func(fl flow, p string) bool {
			l.r.hinted(CodeUnpinnedParam, fl.expr.Pos, epath, "write "+f.Name+" as a YAML map whose names the runbook fixes, and pass values as its values",
				"param %q chooses the environment's names: it reaches the whole %s map (LD_PRELOAD, BASH_ENV and the like run code)", p, f.Name)
			return true
		})
	case plan.RoleURL:
		l.report(v, epath, sc, func(fl flow, p string) bool {
			if !fl.spliced || !inAuthority(fl.prefix) {
				return false
			}
			l.r.add(SeverityWarning, CodeUnpinnedParam, fl.expr.Pos, epath, "constrain it with enum or an anchored pattern, or give the whole URL as the param",
				fmt.Sprintf("param %q is spliced into the host of %s", p, f.Name))
			return true
		})
	}
}

// report calls fn for the loose params of each expression of v until fn
// reports one: each param is reported once per input.
func (l *linter) report(v *plan.Value, epath plan.Path, sc *exprScope, fn func(flow, string) bool) {
	seen := map[string]bool{}
	for _, fl := range flows(v) {
		for _, p := range l.loose(l.flowParams(fl.expr.Src, sc)) {
			if !seen[p] {
				seen[p] = fn(fl, p)
			}
		}
	}
}

// lintCommand refuses loose params that choose the program of an argv:
// the whole list, or its first item. A shell's -c argument is a script.
func (l *linter) lintCommand(v *plan.Value, name string, epath plan.Path, sc *exprScope) {
	if v.Kind != plan.ValueList {
		l.report(v, epath, sc, func(fl flow, p string) bool {
			l.r.hinted(CodeUnpinnedParam, fl.expr.Pos, epath, "write "+name+" as a YAML list whose first item the runbook fixes, and pass values as later items",
				"param %q chooses the program: it reaches the whole %s list", p, name)
			return true
		})
		return
	}
	if len(v.List) == 0 {
		return
	}
	first := epath.Index(0)
	l.report(v.List[0], first, sc, func(fl flow, p string) bool {
		l.r.hinted(CodeUnpinnedParam, fl.expr.Pos, first, "fix the program in the runbook and pass values as later items",
			"param %q chooses the program: it reaches %s[0]", p, name)
		return true
	})
	prog, ok := v.List[0].Lit.(string)
	if !v.List[0].IsLiteral() || !ok {
		return
	}
	if slices.Contains(wrappers, path.Base(prog)) {
		// Any argument may be the program the wrapper runs.
		for i := 1; i < len(v.List); i++ {
			at := epath.Index(i)
			l.report(v.List[i], at, sc, func(fl flow, p string) bool {
				l.r.hinted(CodeUnpinnedParam, fl.expr.Pos, at, "fix the program in the runbook and pass values to it, not to "+path.Base(prog),
					"param %q may choose the program: %s[0] is %s, which runs a program named in its arguments", p, name, path.Base(prog))
				return true
			})
		}
		return
	}
	if !slices.Contains(shells, path.Base(prog)) {
		return
	}
	for i := 1; i+1 < len(v.List); i++ {
		if s, ok := v.List[i].Lit.(string); ok && v.List[i].IsLiteral() && dashC.MatchString(s) {
			l.lintCode(v.List[i+1], epath.Index(i+1), sc, prog+" -c script", "pass it as an argument after the script and read \"$1\"")
			return
		}
	}
}

// lintCode refuses a loose param as the whole text of code, and warns
// when one is spliced into it.
func (l *linter) lintCode(v *plan.Value, epath plan.Path, sc *exprScope, what, bound string) {
	l.report(v, epath, sc, func(fl flow, p string) bool {
		if !fl.spliced {
			l.r.hinted(CodeUnpinnedParam, fl.expr.Pos, epath, "fix the "+what+" in the runbook and "+bound,
				"param %q is the whole %s, so a run chooses the code", p, what)
			return true
		}
		l.r.add(SeverityWarning, CodeUnpinnedParam, fl.expr.Pos, epath, bound+", or constrain it with enum or an anchored pattern",
			fmt.Sprintf("param %q is spliced into the text of the %s", p, what))
		return true
	})
}

// inAuthority reports whether text after prefix is still in a URL's
// scheme, user or host: no "/", "?" or "#" after "://" yet.
func inAuthority(prefix string) bool {
	_, rest, ok := strings.Cut(prefix, "://")
	if !ok {
		return !strings.ContainsAny(prefix, "/?#")
	}
	return !strings.ContainsAny(rest, "/?#")
}

// readsScript reports whether an argv runs a shell that reads its script
// from standard input: a shell whose other items are all flags, none -c.
func readsScript(v *plan.Value) (string, bool) {
	var argv []string
	switch {
	case v == nil:
		return "", false
	case v.IsLiteral(): // a list of literals is one literal
		items, _ := v.Lit.([]any)
		for _, it := range items {
			s, ok := it.(string)
			if !ok {
				return "", false
			}
			argv = append(argv, s)
		}
	case v.Kind == plan.ValueList:
		for _, it := range v.List {
			s, ok := it.Lit.(string)
			if !it.IsLiteral() || !ok {
				return "", false
			}
			argv = append(argv, s)
		}
	}
	if len(argv) == 0 || !slices.Contains(shells, path.Base(argv[0])) {
		return "", false
	}
	for _, a := range argv[1:] {
		if !strings.HasPrefix(a, "-") || dashC.MatchString(a) {
			return "", false
		}
	}
	return argv[0], true
}
