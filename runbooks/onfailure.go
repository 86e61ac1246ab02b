package runbooks

import (
	"reflect"
	"slices"
	"strings"

	"github.com/opsrunbook/runbook/plan"

	"gopkg.in/yaml.v3"
)

// OnStepFailure is what a failure of a step does: fail the run (the
// default) or ask a person to retry, skip or fail it. The short form is the
// action alone (onStepFailure: ask).
type OnStepFailure struct {
	plan.Pos
	Action      String          `yaml:"action" required:"true" doc:"ask: the run waits for a decision (retry, skip or fail); fail (default): the failure fails the run." enum:"ask,fail"`
	Timeout     String          `yaml:"timeout" doc:"How long to wait for a decision; then the step fails as it failed. Default: no limit."`
	Deciders    List[String]    `yaml:"deciders" doc:"Users, or group:NAME, who may decide; default anyone with the operator role."`
	Message     Raw             `yaml:"message" doc:"What the deciders are told; may hold ${{ }} templates."`
	Notify      *ApprovalNotify `yaml:"notify" doc:"Send a notification when the step starts waiting for a decision."`
	RemindEvery String          `yaml:"remindEvery" doc:"Repeat the notification this often while the step waits."`
}

var _ nodeDecoder = (*OnStepFailure)(nil)

func (o *OnStepFailure) decodeNode(n *yaml.Node, d *decoder, path plan.Path) {
	if n.Kind != yaml.ScalarNode {
		d.decodeStruct(n, reflect.ValueOf(o).Elem(), path)
		return
	}
	o.Pos = posOf(n)
	o.Action.decodeNode(n, d, path)
	names := texts(plan.FailureActions)
	if o.Action.Set && !o.Action.bad && !slices.Contains(names, o.Action.Value) {
		d.r.hinted(CodeInvalidValue, o.Action.Pos, path, plan.Suggest(o.Action.Value, names), "%q is not one of %s", o.Action.Value, strings.Join(names, ", "))
	}
}

func texts[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// onStepFailureSchema is both forms: the action alone, or the mapping.
func (g *schemaGen) onStepFailureSchema() map[string]any {
	return map[string]any{"oneOf": []any{
		map[string]any{"type": "string", "enum": texts(plan.FailureActions)},
		g.object(reflect.TypeOf(OnStepFailure{})),
	}}
}

// lintOnStepFailure checks a step's policy, or spec's (n nil), whose
// templates read what sc allows.
func (l *linter) lintOnStepFailure(o *OnStepFailure, n *stepNode, path plan.Path, sc *exprScope) {
	if o == nil {
		return
	}
	if n != nil {
		switch {
		case !mainFlow(n):
			l.r.errorf(CodeNotAllowed, o.Pos, path, "onStepFailure is only valid on steps of spec.steps, not in onFailure, finally, onError or compensate.steps")
			return
		case n.step.ContinueOnError.Value:
			l.r.warnf(CodeNoEffect, o.Pos, path, "onStepFailure has no effect with continueOnError: the failure is swallowed, nobody is asked")
		}
	}
	ask := o.Action.Value == string(plan.FailureAsk)
	for _, f := range []struct {
		name string
		set  bool
		pos  plan.Pos
	}{{"timeout", o.Timeout.Set, o.Timeout.Pos}, {"deciders", o.Deciders.Set, o.Deciders.Pos}, {"message", o.Message.Set(), o.Message.Pos},
		{"notify", o.Notify != nil, notifyPos(o.Notify)}, {"remindEvery", o.RemindEvery.Set, o.RemindEvery.Pos}} {
		if f.set && !ask && o.Action.Set {
			l.r.warnf(CodeNoEffect, f.pos, path.Field(f.name), "%s has no effect unless action is ask", f.name)
		}
	}
	l.duration(&o.Timeout, path.Field("timeout"), sc)
	if o.Deciders.Set && !o.Deciders.bad {
		if len(o.Deciders.Items) == 0 {
			l.r.errorf(CodeRequired, o.Deciders.Pos, path.Field("deciders"), "deciders must name at least one user or group:NAME; leave it out to let anyone with the operator role decide")
		}
		l.principals(o.Deciders.Items, path.Field("deciders"))
	}
	if o.Message.Set() {
		if v := l.checkValue(o.Message.Node, plan.StringType, path.Field("message"), sc); v != nil {
			l.out.values[o.Message.Node] = v
		}
	}
	l.lintNotify(o.Notify, &o.RemindEvery, path, sc, "onStepFailure.notify")
}

func notifyPos(nt *ApprovalNotify) plan.Pos {
	if nt == nil {
		return plan.Pos{}
	}
	return nt.Pos
}

// mainFlow reports whether a step is in spec.steps, outside an onError
// and a compensation: where a failure fails the run and may be asked about.
func mainFlow(n *stepNode) bool {
	if n.section != "spec.steps" || n.compOf != nil {
		return false
	}
	p := string(n.path)
	return !strings.Contains(p, ".onError[") && !strings.Contains(p, ".compensate.")
}

// asksKinds are the kinds onStepFailure applies to: those whose own
// failure fails the run (a group, parallel or forEach fails through its
// steps, which ask themselves; a forEach's maxErrors budget does not ask).
var asksKinds = []plan.StepKind{plan.StepAction, plan.StepAssert, plan.StepRunbook}

// onStepFailure compiles the policy of step s: its own, else spec's; nil
// when it fails the run as always (also with continueOnError, and outside
// the main flow).
func (c *compiler) onStepFailure(s *Step, n *stepNode) *plan.OnStepFailure {
	o := s.OnStepFailure
	if o == nil {
		o = c.doc.Spec.OnStepFailure
	}
	if o == nil || o.Action.Value != string(plan.FailureAsk) || s.ContinueOnError.Value || n == nil || !mainFlow(n) || !slices.Contains(asksKinds, n.kind) {
		return nil
	}
	return &plan.OnStepFailure{Action: plan.FailureAsk, Timeout: c.duration(&o.Timeout), Deciders: values(o.Deciders.Items), Message: c.value(o.Message),
		Notify: c.notify(o.Notify), RemindEvery: c.duration(&o.RemindEvery)}
}
