package runbooks

import (
	"strings"

	"github.com/opsrunbook/runbook/plan"

	"gopkg.in/yaml.v3"
)

func (l *linter) lintApproval(a *Approval, path plan.Path, sc *exprScope) {
	if a.Message.Set() {
		if v := l.checkValue(a.Message.Node, plan.StringType, path.Field("message"), sc); v != nil {
			l.out.values[a.Message.Node] = v
		}
	}
	users, groups, fixed := l.lintApprovers(a, path)
	if a.MinApprovals.Set && !a.MinApprovals.bad {
		switch m := a.MinApprovals.Value; {
		case m < 1:
			l.r.errorf(CodeInvalidValue, a.MinApprovals.Pos, path.Field("minApprovals"), "minApprovals must be at least 1, got %d", m)
		case fixed && groups == 0 && users > 0 && int(m) > users:
			l.r.errorf(CodeInvalidValue, a.MinApprovals.Pos, path.Field("minApprovals"), "minApprovals is %d but only %d approvers are listed", m, users)
		}
	}
	l.principals(a.EscalateTo.Items, path.Field("escalateTo"))
	l.duration(&a.Timeout, path.Field("timeout"), sc)
	if a.OnTimeout.Value == string(plan.ApprovalTimeoutEscalate) {
		if len(a.EscalateTo.Items) == 0 {
			l.r.errorf(CodeRequired, a.OnTimeout.Pos, path.Field("onTimeout"), "onTimeout escalate needs escalateTo")
		}
		if !a.Timeout.Set {
			l.r.errorf(CodeRequired, a.OnTimeout.Pos, path.Field("onTimeout"), "onTimeout escalate needs a timeout")
		}
	} else if a.EscalateTo.Set {
		l.r.warnf(CodeNoEffect, a.EscalateTo.Pos, path.Field("escalateTo"), "escalateTo has no effect unless onTimeout is escalate")
	}
	l.lintApprovalInputs(a, path.Field("inputs"))
	l.lintNotify(a.Notify, &a.RemindEvery, path, sc, "approval.notify")
}

// lintApprovers checks a fixed list of approvers, or one ${{ }} list
// expression over params and run (checked non-empty when the run starts).
func (l *linter) lintApprovers(a *Approval, path plan.Path) (users, groups int, fixed bool) {
	path = path.Field("approvers")
	r := a.Approvers
	if !r.Set() {
		return 0, 0, false
	}
	n := r.Node
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" && hasTemplate(n.Value) {
		sc := &exprScope{env: l.env, field: "approvers"}
		v := l.checkValue(n, plan.ListOf(plan.StringType), path, sc)
		if v != nil && !v.IsExpr() {
			l.r.hinted(CodeExprSyntax, r.Pos, path, `write "${{ expression }}" and nothing else`, "approvers must be a list or one whole ${{ }} list expression")
			return 0, 0, false
		}
		if v != nil {
			l.out.values[n] = v
		}
		return 0, 0, false
	}
	if n.Kind != yaml.SequenceNode {
		l.r.errorf(CodeTypeMismatch, r.Pos, path, "expected a list of users and group:NAME, or a ${{ }} list expression, got %s", describeNode(n))
		return 0, 0, false
	}
	if len(n.Content) == 0 {
		l.r.errorf(CodeRequired, r.Pos, path, "approvers must name at least one user or group:NAME")
		return 0, 0, true
	}
	var items []String
	for i, c := range n.Content {
		if c.Kind != yaml.ScalarNode || c.Tag != "!!str" {
			l.r.errorf(CodeTypeMismatch, posOf(c), path.Index(i), "expected a user or group:NAME, got %s", describeNode(c))
			continue
		}
		items = append(items, String{Value: c.Value, Pos: posOf(c), Set: true})
	}
	users, groups = l.principals(items, path)
	return users, groups, true
}

// principals checks users and group:NAME entries, counting each kind.
func (l *linter) principals(items []String, path plan.Path) (users, groups int) {
	seen := map[string]bool{}
	for i, who := range items {
		p := path.Index(i)
		v := strings.TrimSpace(who.Value)
		switch {
		case v == "" || v == "group:":
			l.r.errorf(CodeInvalidValue, who.Pos, p, "expected a user or group:NAME")
		case seen[v]:
			l.r.errorf(CodeDuplicate, who.Pos, p, "%q is listed twice", v)
		case strings.HasPrefix(v, "group:"):
			groups++
		default:
			users++
		}
		seen[v] = true
	}
	return users, groups
}

// lintApprovalInputs checks the typed values an approver supplies.
func (l *linter) lintApprovalInputs(a *Approval, path plan.Path) {
	seen := map[string]plan.Pos{}
	for i, p := range a.Inputs.Items {
		ipath := path.Index(i)
		if p.Name.Set {
			switch {
			case !identRe.MatchString(p.Name.Value):
				l.r.errorf(CodeInvalidValue, p.Name.Pos, ipath.Field("name"), "input name %q must be lowercase letters, digits and underscores, starting with a letter", p.Name.Value)
			case seen[p.Name.Value] != plan.Pos{}:
				l.r.errorf(CodeDuplicate, p.Name.Pos, ipath.Field("name"), "duplicate input %q (first declared at line %d)", p.Name.Value, seen[p.Name.Value].Line)
			default:
				seen[p.Name.Value] = p.Name.Pos
			}
		}
		if p.Fixed.Set {
			l.r.errorf(CodeNotAllowed, p.Fixed.Pos, ipath.Field("fixed"), "fixed is only valid in spec.params; an approver gives every input")
		}
		pp := l.lintParam(p, ipath)
		l.out.inputs[a] = append(l.out.inputs[a], pp)
	}
}

func (l *linter) lintWaitFor(w *WaitFor, path plan.Path, sc *exprScope) {
	if w.Event.Set && !identRe.MatchString(strings.ReplaceAll(w.Event.Value, "-", "_")) {
		l.r.errorf(CodeInvalidValue, w.Event.Pos, path.Field("event"), "event name %q must be lowercase letters, digits, dashes and underscores, starting with a letter", w.Event.Value)
	}
	l.duration(&w.Timeout, path.Field("timeout"), sc)
	if w.OnTimeout.Value == string(plan.WaitTimeoutContinue) && !w.Timeout.Set {
		l.r.warnf(CodeNoEffect, w.OnTimeout.Pos, path.Field("onTimeout"), "onTimeout has no effect without a timeout")
	}
	if w.Senders.Set && len(w.Senders.Items) == 0 {
		l.r.errorf(CodeRequired, w.Senders.Pos, path.Field("senders"), "senders must name at least one user or group:NAME; leave it out to allow any operator")
	}
	l.principals(w.Senders.Items, path.Field("senders"))
}

// lintNotify checks a notification (an approval's, or a decision's) and
// its remindEvery, under path; field names it in secret diagnostics.
func (l *linter) lintNotify(nt *ApprovalNotify, remind *String, path plan.Path, sc *exprScope, field string) {
	if nt != nil {
		spec, ok := l.opts.Actions.Action("notify")
		if !ok {
			l.r.errorf(CodeUnknownAction, nt.Pos, path.Field("notify"), "%s needs the notify action, which this worker does not have", strings.ReplaceAll(field, ".", " "))
		} else {
			nsc := *sc
			nsc.secrets, nsc.field = true, field
			with := Map[Raw]{Pos: nt.Pos, Set: true}
			for _, in := range []Entry[Raw]{{Key: "url", KeyPos: nt.URL.Pos, Value: nt.URL}, {Key: "text", KeyPos: nt.Text.Pos, Value: nt.Text}} {
				if in.Value.Set() {
					with.Entries = append(with.Entries, in)
				}
			}
			l.lintWith(spec, &with, nt.Pos, path.Field("notify"), &nsc)
		}
	}
	l.duration(remind, path.Field("remindEvery"), sc)
	if remind.Set && nt == nil {
		l.r.errorf(CodeRequired, remind.Pos, path.Field("remindEvery"), "remindEvery repeats the notification; add notify")
	}
}
