package runbooks

import (
	"fmt"
	"strings"

	"github.com/opsrunbook/runbook/plan"

	"gopkg.in/yaml.v3"
)

func (l *linter) lintApproval(a *Approval, path string, sc *exprScope) {
	if a.Message.Set() {
		if v := l.checkValue(a.Message.Node, plan.StringType, path+".message", sc); v != nil {
			l.out.values[a.Message.Node] = v
		}
	}
	users, groups, fixed := l.lintApprovers(a, path)
	if a.MinApprovals.Set && !a.MinApprovals.bad {
		switch m := a.MinApprovals.Value; {
		case m < 1:
			l.r.errorf(a.MinApprovals.Pos, path+".minApprovals", "minApprovals must be at least 1, got %d", m)
		case fixed && groups == 0 && users > 0 && int(m) > users:
			l.r.errorf(a.MinApprovals.Pos, path+".minApprovals", "minApprovals is %d but only %d approvers are listed", m, users)
		}
	}
	l.principals(a.EscalateTo.Items, path+".escalateTo")
	l.duration(&a.Timeout, path+".timeout", sc)
	if a.OnTimeout.Value == string(plan.ApprovalTimeoutEscalate) {
		if len(a.EscalateTo.Items) == 0 {
			l.r.errorf(a.OnTimeout.Pos, path+".onTimeout", "onTimeout escalate needs escalateTo")
		}
		if !a.Timeout.Set {
			l.r.errorf(a.OnTimeout.Pos, path+".onTimeout", "onTimeout escalate needs a timeout")
		}
	} else if a.EscalateTo.Set {
		l.r.warnf(a.EscalateTo.Pos, path+".escalateTo", "escalateTo has no effect unless onTimeout is escalate")
	}
	l.lintApprovalInputs(a, path+".inputs")
	if nt := a.Notify; nt != nil {
		spec, ok := l.opts.Actions.Action("notify")
		if !ok {
			l.r.errorf(nt.Pos, path+".notify", "approval notify needs the notify action, which this worker does not have")
		} else {
			nsc := *sc
			nsc.secrets, nsc.field = true, "approval.notify"
			with := Map[Raw]{Pos: nt.Pos, Set: true}
			for _, in := range []Entry[Raw]{{Key: "url", KeyPos: nt.URL.Pos, Value: nt.URL}, {Key: "text", KeyPos: nt.Text.Pos, Value: nt.Text}} {
				if in.Value.Set() {
					with.Entries = append(with.Entries, in)
				}
			}
			l.lintWith(spec, &with, nt.Pos, path+".notify", &nsc)
		}
	}
	l.duration(&a.RemindEvery, path+".remindEvery", sc)
	if a.RemindEvery.Set && a.Notify == nil {
		l.r.errorf(a.RemindEvery.Pos, path+".remindEvery", "remindEvery repeats the notification; add notify")
	}
}

// lintApprovers checks a fixed list of approvers, or one ${{ }} list
// expression over params and run (checked non-empty when the run starts).
func (l *linter) lintApprovers(a *Approval, path string) (users, groups int, fixed bool) {
	path += ".approvers"
	r := a.Approvers
	if !r.Set() {
		return 0, 0, false
	}
	n := r.Node
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" && hasTemplate(n.Value) {
		sc := &exprScope{env: l.env, field: "approvers"}
		v := l.checkValue(n, plan.ListOf(plan.StringType), path, sc)
		if v != nil && !v.IsExpr() {
			l.r.hinted(r.Pos, path, `write "${{ expression }}" and nothing else`, "approvers must be a list or one whole ${{ }} list expression")
			return 0, 0, false
		}
		if v != nil {
			l.out.values[n] = v
		}
		return 0, 0, false
	}
	if n.Kind != yaml.SequenceNode {
		l.r.errorf(r.Pos, path, "expected a list of users and group:NAME, or a ${{ }} list expression, got %s", describeNode(n))
		return 0, 0, false
	}
	if len(n.Content) == 0 {
		l.r.errorf(r.Pos, path, "approvers must name at least one user or group:NAME")
		return 0, 0, true
	}
	var items []String
	for i, c := range n.Content {
		if c.Kind != yaml.ScalarNode || c.Tag != "!!str" {
			l.r.errorf(posOf(c), fmt.Sprintf("%s[%d]", path, i), "expected a user or group:NAME, got %s", describeNode(c))
			continue
		}
		items = append(items, String{Value: c.Value, Pos: posOf(c), Set: true})
	}
	users, groups = l.principals(items, path)
	return users, groups, true
}

// principals checks users and group:NAME entries, counting each kind.
func (l *linter) principals(items []String, path string) (users, groups int) {
	seen := map[string]bool{}
	for i, who := range items {
		p := fmt.Sprintf("%s[%d]", path, i)
		v := strings.TrimSpace(who.Value)
		switch {
		case v == "" || v == "group:":
			l.r.errorf(who.Pos, p, "expected a user or group:NAME")
		case seen[v]:
			l.r.errorf(who.Pos, p, "%q is listed twice", v)
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
func (l *linter) lintApprovalInputs(a *Approval, path string) {
	seen := map[string]plan.Pos{}
	for i, p := range a.Inputs.Items {
		ipath := fmt.Sprintf("%s[%d]", path, i)
		if p.Name.Set {
			switch {
			case !identRe.MatchString(p.Name.Value):
				l.r.errorf(p.Name.Pos, ipath+".name", "input name %q must be lowercase letters, digits and underscores, starting with a letter", p.Name.Value)
			case seen[p.Name.Value] != plan.Pos{}:
				l.r.errorf(p.Name.Pos, ipath+".name", "duplicate input %q (first declared at line %d)", p.Name.Value, seen[p.Name.Value].Line)
			default:
				seen[p.Name.Value] = p.Name.Pos
			}
		}
		if p.Fixed.Set {
			l.r.errorf(p.Fixed.Pos, ipath+".fixed", "fixed is only valid in spec.params; an approver gives every input")
		}
		pp := l.lintParam(p, ipath)
		l.out.inputs[a] = append(l.out.inputs[a], pp)
	}
}

func (l *linter) lintWaitFor(w *WaitFor, path string, sc *exprScope) {
	if w.Event.Set && !identRe.MatchString(strings.ReplaceAll(w.Event.Value, "-", "_")) {
		l.r.errorf(w.Event.Pos, path+".event", "event name %q must be lowercase letters, digits, dashes and underscores, starting with a letter", w.Event.Value)
	}
	l.duration(&w.Timeout, path+".timeout", sc)
	if w.OnTimeout.Value == string(plan.WaitTimeoutContinue) && !w.Timeout.Set {
		l.r.warnf(w.OnTimeout.Pos, path+".onTimeout", "onTimeout has no effect without a timeout")
	}
	if w.Senders.Set && len(w.Senders.Items) == 0 {
		l.r.errorf(w.Senders.Pos, path+".senders", "senders must name at least one user or group:NAME; leave it out to allow any operator")
	}
	l.principals(w.Senders.Items, path+".senders")
}
