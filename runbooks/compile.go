package runbooks

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/plan"

	"gopkg.in/yaml.v3"
)

// Defaults the compiler fills in; docs/runbook-format.md lists them.
const (
	DefaultRetryAttempts  = 3
	DefaultRetryInitial   = time.Second
	DefaultRetryBackoff   = 2.0
	DefaultRepeatEvery    = 10 * time.Second
	DefaultMinApprovals   = 1
	DefaultMaxConcurrency = 1
	DefaultLoopVar        = "item"
)

// Compile turns a checked document into its immutable plan. Its error is
// an *InternalError: compile found no record of something lint checks.
func Compile(checked *Checked) (*plan.Plan, error) {
	c := &compiler{Checked: checked}
	doc := c.doc
	sum := sha256.Sum256(c.src)
	p := &plan.Plan{
		Version:     plan.Version,
		Name:        doc.Metadata.Name.Value,
		Title:       doc.Metadata.Title.Value,
		Description: doc.Metadata.Description.Value,
		File:        doc.file,
		Hash:        hex.EncodeToString(sum[:]),
		Params:      c.params,
		Timeout:     c.duration(&doc.Spec.Timeout),
		Vars:        c.varList(&doc.Spec.Vars),
	}
	for _, o := range doc.Metadata.Owners.Items {
		p.Owners = append(p.Owners, o.Value)
	}
	if doc.Metadata.Labels.Len() > 0 {
		p.Labels = map[string]string{}
		for _, e := range doc.Metadata.Labels.Entries {
			p.Labels[e.Key] = e.Value.Value
		}
	}
	for _, s := range doc.Spec.Secrets.Items {
		p.Secrets = append(p.Secrets, s.Value)
	}
	if cc := doc.Spec.Concurrency; cc != nil {
		p.Concurrency = &plan.Concurrency{Key: c.expr(&cc.Key), OnConflict: or(cc.OnConflict.Value, plan.ConflictReject)}
	}
	for _, s := range doc.Spec.Schedules.Items {
		params, ok := c.schedules[s]
		if !ok {
			c.missing(s.Pos, "schedule params")
		}
		p.Schedules = append(p.Schedules, plan.Schedule{
			Name:          s.Name.Value,
			Cron:          s.Cron.Value,
			Timezone:      or(s.Timezone.Value, "UTC"),
			Params:        params,
			Overlap:       or(s.Overlap.Value, plan.OverlapSkip),
			CatchupWindow: c.duration(&s.CatchupWindow),
			Paused:        s.Paused.Value,
		})
	}
	for _, t := range doc.Spec.Triggers.Items {
		if am := t.Alertmanager; am != nil {
			p.Triggers = append(p.Triggers, plan.Trigger{Kind: plan.TriggerAlertmanager, Match: c.expr(&am.Match), Params: c.exprMap(&am.Params),
				OnResolved: am.OnResolved.Value})
		}
		if wh := t.Webhook; wh != nil {
			p.Triggers = append(p.Triggers, plan.Trigger{Kind: plan.TriggerWebhook, Name: wh.Name.Value, Match: c.expr(&wh.Match),
				Params: c.exprMap(&wh.Params), Secret: wh.Secret.Value, SignatureHeader: or(wh.SignatureHeader.Value, DefaultSignatureHeader),
				SignedHeaders: signedHeaders(wh), Incident: c.webhookIncident(wh.Incident)})
		}
	}
	p.Steps = c.stepList(doc.Spec.Steps.Items)
	p.OnFailure = c.stepList(doc.Spec.OnFailure.Items)
	p.Finally = c.stepList(doc.Spec.Finally.Items)
	for i := range doc.Spec.Outputs.Entries {
		e := &doc.Spec.Outputs.Entries[i]
		t := c.outputTypes[e.Key]
		if t == nil {
			c.missing(e.Value.Pos, "type of output "+e.Key)
		}
		p.Outputs = append(p.Outputs, plan.Output{Name: e.Key, Expr: c.expr(&e.Value), Type: t})
	}
	if c.err != nil {
		return nil, c.err
	}
	return p, nil
}

// InternalError is a bug in this package, never in the runbook: compile
// found no record of something lint checks, and refuses to leave it out of
// the plan.
type InternalError struct {
	File string
	Pos  plan.Pos
	What string
}

func (e *InternalError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Pos.Line, e.Pos.Col, e.Message())
}

// Message is the error without its position, as a diagnostic shows it.
func (e *InternalError) Message() string {
	return "internal error: lint recorded no " + e.What + " (a bug in package runbooks, not in the runbook)"
}

// strict makes a missing record panic where compile finds it, so that a
// test shows the bug at once; in production Compile returns it.
var strict = testing.Testing()

// compiler is the state of one Compile call. Every lookup of what lint
// recorded goes through its methods, which call missing when a field that
// is set has no record.
type compiler struct {
	*Checked
	err error // the first *InternalError
}

func (c *compiler) missing(pos plan.Pos, what string) {
	err := &InternalError{File: c.doc.file, Pos: pos, What: what}
	if strict {
		panic(err)
	}
	if c.err == nil {
		c.err = err
	}
}

// or is v, or def when v is not given; T is the field's enum type.
func or[T ~string](v string, def T) T {
	if v == "" {
		return def
	}
	return T(v)
}

// expr is a CEL field's checked expression, nil when not set.
func (c *compiler) expr(s *String) *plan.Expr {
	if !s.Set {
		return nil
	}
	e := c.exprs[s]
	if e == nil {
		c.missing(s.Pos, "expression")
	}
	return e
}

// webhookIncident is a webhook trigger's incident, nil when it has none.
func (c *compiler) webhookIncident(inc *WebhookIncident) *plan.TriggerIncident {
	if inc == nil {
		return nil
	}
	return &plan.TriggerIncident{Key: c.expr(&inc.Key), Title: c.expr(&inc.Title), Severity: c.expr(&inc.Severity),
		Service: c.expr(&inc.Service), Resolved: c.expr(&inc.Resolved)}
}

// duration is a duration field's compiled value, zero when not set.
func (c *compiler) duration(s *String) plan.Duration {
	if !s.Set {
		return plan.Duration{}
	}
	d, ok := c.durations[s]
	if !ok {
		c.missing(s.Pos, "duration")
	}
	return d
}

// durationOr is a duration field's compiled value, or def when not given.
func (c *compiler) durationOr(s *String, def time.Duration) plan.Duration {
	if !s.Set {
		return plan.Fixed(def)
	}
	return c.duration(s)
}

// value is a field's checked value or template, nil when not set.
func (c *compiler) value(r Raw) *plan.Value {
	if !r.Set() {
		return nil
	}
	v := c.values[r.Node]
	if v == nil {
		c.missing(r.Pos, "value")
	}
	return v
}

// count is a count field's compiled value, or def when not given.
func (c *compiler) count(r Raw, def plan.Count) plan.Count {
	if !r.Set() {
		return def
	}
	n, ok := c.counts[r.Node]
	if !ok {
		c.missing(r.Pos, "count")
	}
	return n
}

// child is a sub-runbook's resolved plan.
func (c *compiler) child(sr *SubRunbook) *plan.Plan {
	p := c.children[sr.Name.Value]
	if p == nil {
		c.missing(sr.Name.Pos, "plan of runbook "+sr.Name.Value)
	}
	return p
}

func (c *compiler) exprMap(m *Map[String]) map[string]*plan.Expr {
	if m.Len() == 0 {
		return nil
	}
	out := make(map[string]*plan.Expr, m.Len())
	for i := range m.Entries {
		out[m.Entries[i].Key] = c.expr(&m.Entries[i].Value)
	}
	return out
}

func (c *compiler) varList(m *Map[String]) []plan.Var {
	var out []plan.Var
	for i := range m.Entries {
		e := &m.Entries[i]
		v := plan.Var{Name: e.Key, Expr: c.expr(&e.Value), Type: plan.AnyType}
		if d := c.vars[e.Key]; d != nil && d.typ != nil {
			v.Type = d.typ
		}
		out = append(out, v)
	}
	return out
}

func (c *compiler) stepList(steps []*Step) []*plan.Step {
	if len(steps) == 0 {
		return nil
	}
	out := make([]*plan.Step, len(steps))
	for i, s := range steps {
		out[i] = c.step(s)
	}
	return out
}

func (c *compiler) with(m *Map[Raw]) map[string]*plan.Value {
	if m.Len() == 0 {
		return nil
	}
	out := make(map[string]*plan.Value, m.Len())
	for _, e := range m.Entries {
		out[e.Key] = c.value(e.Value)
	}
	return out
}

func (c *compiler) step(s *Step) *plan.Step {
	n := c.nodes[s]
	k := (*stepKind)(nil)
	if n != nil {
		k = kindOf(n.kind)
	}
	if k == nil {
		c.missing(s.Pos, "kind of step "+s.ID.Value)
		return &plan.Step{ID: s.ID.Value, Line: s.Pos.Line}
	}
	ps := &plan.Step{
		ID:              s.ID.Value,
		Kind:            n.kind,
		Name:            s.Name.Value,
		Description:     s.Description.Value,
		Line:            s.Pos.Line,
		If:              c.expr(&s.If),
		ContinueOnError: s.ContinueOnError.Value,
		NotResumable:    s.Resumable.Set && !s.Resumable.Value,
	}
	if n.outputs != nil && len(n.outputs.Fields) > 0 {
		ps.Outputs = bare(n.outputs)
	}
	k.compile(c, s, ps)
	ps.OnStepFailure = c.onStepFailure(s, n)
	return ps
}

func (c *compiler) forEach(s *Step, ps *plan.Step) {
	ps.ForEach = c.expr(&s.ForEach)
	ps.As = or(s.As.Value, DefaultLoopVar)
	ps.MaxConcurrency = c.count(s.MaxConcurrency, plan.Count{N: DefaultMaxConcurrency})
	if s.MaxErrors.Set() {
		ps.MaxErrors = c.maxErrors[s.MaxErrors.Node]
		if ps.MaxErrors == nil {
			c.missing(s.MaxErrors.Pos, "maxErrors")
		}
	}
	ps.BatchSize = c.count(s.BatchSize, plan.Count{})
	ps.Steps = c.stepList(s.Steps.Items)
	ps.OnError = c.stepList(s.OnError.Items)
}

func (c *compiler) action(s *Step, ps *plan.Step) {
	ps.Action = s.Action.Value
	ps.ActionFacts = c.facts(&s.Action)
	ps.With = c.with(&s.With)
	ps.Timeout = c.duration(&s.Timeout)
	ps.Retry = &plan.Retry{MaxAttempts: 1, InitialInterval: plan.Fixed(DefaultRetryInitial), Backoff: DefaultRetryBackoff}
	if r := s.Retry; r != nil {
		ps.Retry.MaxAttempts = DefaultRetryAttempts
		if r.MaxAttempts.Set {
			ps.Retry.MaxAttempts = int(r.MaxAttempts.Value)
		}
		ps.Retry.InitialInterval = c.durationOr(&r.InitialInterval, DefaultRetryInitial)
		if r.Backoff.Set {
			ps.Retry.Backoff = r.Backoff.Value
		}
		ps.Retry.MaxInterval = c.duration(&r.MaxInterval)
		ps.Retry.NonRetryable = values(r.NonRetryable.Items)
	}
	if r := s.Repeat; r != nil {
		ps.Repeat = &plan.Repeat{Until: c.expr(&r.Until), Every: c.durationOr(&r.Every, DefaultRepeatEvery), Timeout: c.duration(&r.Timeout)}
	}
	if cp := s.Compensate; cp != nil {
		ps.Compensate = &plan.Compensate{Action: cp.Action.Value, With: c.with(&cp.With), Steps: c.stepList(cp.Steps.Items)}
		if cp.Action.Value != "" {
			ps.Compensate.ActionFacts = c.facts(&cp.Action)
		}
	}
}

// facts is what the interpreter needs of an action, taken from the spec the
// step was checked against and frozen into the plan.
func (c *compiler) facts(action *String) plan.ActionFacts {
	spec, ok := c.actions.Action(action.Value)
	if !ok {
		c.missing(action.Pos, "spec of action "+action.Value)
		return plan.ActionFacts{}
	}
	return spec.Facts()
}

func (c *compiler) approval(a *Approval) *plan.Approval {
	pa := &plan.Approval{
		Message:           c.value(a.Message),
		MinApprovals:      DefaultMinApprovals,
		AllowSelfApproval: a.AllowSelfApproval.Value,
		Timeout:           c.duration(&a.Timeout),
		OnTimeout:         or(a.OnTimeout.Value, plan.ApprovalTimeoutReject),
		EscalateTo:        values(a.EscalateTo.Items),
		RemindEvery:       c.duration(&a.RemindEvery),
	}
	if len(a.Inputs.Items) > 0 {
		if pa.Inputs = c.inputs[a]; pa.Inputs == nil {
			c.missing(a.Inputs.Pos, "approval inputs")
		}
	}
	if a.MinApprovals.Set {
		pa.MinApprovals = int(a.MinApprovals.Value)
	}
	switch {
	case !a.Approvers.Set():
	case a.Approvers.Node.Kind == yaml.SequenceNode: // a literal list lint checked in place
		for _, who := range a.Approvers.Node.Content {
			if who.Kind != yaml.MappingNode {
				pa.Approvers = append(pa.Approvers, who.Value)
				continue
			}
			q := plan.GroupQuorum{Min: 1}
			for i := 0; i+1 < len(who.Content); i += 2 {
				switch who.Content[i].Value {
				case "group":
					q.Group = who.Content[i+1].Value
				case "min":
					fmt.Sscan(who.Content[i+1].Value, &q.Min)
				}
			}
			pa.Approvers = append(pa.Approvers, "group:"+q.Group)
			pa.Quorum = append(pa.Quorum, q)
		}
		if need := quorumNeeds(a); need > 0 && !a.MinApprovals.Set {
			pa.MinApprovals = need
		}
	default:
		if v := c.value(a.Approvers); v != nil {
			pa.ApproversExpr = v.Expr
		}
	}
	pa.Notify = c.notify(a.Notify)
	return pa
}

// notify compiles a notification to the notify action's inputs.
func (c *compiler) notify(nt *ApprovalNotify) map[string]*plan.Value {
	if nt == nil {
		return nil
	}
	return map[string]*plan.Value{"url": c.value(nt.URL), "text": c.value(nt.Text)}
}

func values(items []String) []string {
	var out []string
	for _, s := range items {
		out = append(out, s.Value)
	}
	return out
}

// Build parses, lints and compiles one runbook file. It returns every
// diagnostic (warnings included) and, when there is an error among them,
// an *InvalidError and no plan; an *InternalError is a bug in this package.
func Build(file string, src []byte, opts Options) (*plan.Plan, Diagnostics, error) {
	doc, diags := Parse(file, src)
	if doc == nil {
		return nil, diags, &InvalidError{File: file, Diagnostics: diags}
	}
	checked, lintDiags := Lint(doc, src, opts)
	diags = append(diags, lintDiags...)
	diags.Sort()
	if diags.HasErrors() {
		return nil, diags, &InvalidError{File: file, Diagnostics: diags}
	}
	p, err := Compile(checked)
	if err != nil {
		return nil, diags, err
	}
	diags = append(diags, checkLimits(checked, p)...)
	diags.Sort()
	if diags.HasErrors() {
		return nil, diags, &InvalidError{File: file, Diagnostics: diags}
	}
	return p, diags, nil
}

// bare copies a type without descriptions, defaults and enums: all a plan
// needs of an output type is its shape.
func bare(t *plan.Type) *plan.Type {
	if t == nil {
		return nil
	}
	out := &plan.Type{Kind: t.Kind, Elem: bare(t.Elem)}
	for _, f := range t.Fields {
		out.Fields = append(out.Fields, plan.Field{Name: f.Name, Type: bare(f.Type)})
	}
	return out
}
