package runbooks

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"fmt"

	"github.com/opsrunbook/runbook/plan"
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

// Compile turns a checked document into its immutable plan.
func Compile(c *Checked) *plan.Plan {
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
		Timeout:     c.durations[&doc.Spec.Timeout],
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
		p.Concurrency = &plan.Concurrency{Key: c.exprs[&cc.Key], OnConflict: or(cc.OnConflict.Value, plan.ConflictReject)}
	}
	for _, s := range doc.Spec.Schedules.Items {
		p.Schedules = append(p.Schedules, plan.Schedule{
			Name:          s.Name.Value,
			Cron:          s.Cron.Value,
			Timezone:      or(s.Timezone.Value, "UTC"),
			Params:        c.schedules[s],
			Overlap:       or(s.Overlap.Value, plan.OverlapSkip),
			CatchupWindow: c.durations[&s.CatchupWindow],
			Paused:        s.Paused.Value,
		})
	}
	for _, t := range doc.Spec.Triggers.Items {
		if am := t.Alertmanager; am != nil {
			p.Triggers = append(p.Triggers, plan.Trigger{Kind: plan.TriggerAlertmanager, Match: c.exprs[&am.Match], Params: c.exprMap(&am.Params)})
		}
		if wh := t.Webhook; wh != nil {
			p.Triggers = append(p.Triggers, plan.Trigger{Kind: plan.TriggerWebhook, Name: wh.Name.Value, Match: c.exprs[&wh.Match],
				Params: c.exprMap(&wh.Params), Secret: wh.Secret.Value, SignatureHeader: or(wh.SignatureHeader.Value, DefaultSignatureHeader),
				SignedHeaders: signedHeaders(wh)})
		}
	}
	p.Steps = c.stepList(doc.Spec.Steps.Items)
	p.OnFailure = c.stepList(doc.Spec.OnFailure.Items)
	p.Finally = c.stepList(doc.Spec.Finally.Items)
	for i := range doc.Spec.Outputs.Entries {
		e := &doc.Spec.Outputs.Entries[i]
		p.Outputs = append(p.Outputs, plan.Output{Name: e.Key, Expr: c.exprs[&e.Value], Type: c.outputTypes[e.Key]})
	}
	return p
}

// or is v, or def when v is not given; T is the field's enum type.
func or[T ~string](v string, def T) T {
	if v == "" {
		return def
	}
	return T(v)
}

// durationOr is a duration field's compiled value, or def when not given.
func (c *Checked) durationOr(s *String, def time.Duration) plan.Duration {
	if d, ok := c.durations[s]; ok {
		return d
	}
	return plan.Fixed(def)
}

func (c *Checked) exprMap(m *Map[String]) map[string]*plan.Expr {
	if m.Len() == 0 {
		return nil
	}
	out := make(map[string]*plan.Expr, m.Len())
	for i := range m.Entries {
		out[m.Entries[i].Key] = c.exprs[&m.Entries[i].Value]
	}
	return out
}

func (c *Checked) varList(m *Map[String]) []plan.Var {
	var out []plan.Var
	for i := range m.Entries {
		e := &m.Entries[i]
		v := plan.Var{Name: e.Key, Expr: c.exprs[&e.Value], Type: plan.AnyType}
		if d := c.vars[e.Key]; d != nil && d.typ != nil {
			v.Type = d.typ
		}
		out = append(out, v)
	}
	return out
}

func (c *Checked) stepList(steps []*Step) []*plan.Step {
	if len(steps) == 0 {
		return nil
	}
	out := make([]*plan.Step, len(steps))
	for i, s := range steps {
		out[i] = c.step(s)
	}
	return out
}

func (c *Checked) with(m *Map[Raw]) map[string]*plan.Value {
	if m.Len() == 0 {
		return nil
	}
	out := make(map[string]*plan.Value, m.Len())
	for _, e := range m.Entries {
		out[e.Key] = c.values[e.Value.Node]
	}
	return out
}

func (c *Checked) value(r Raw) *plan.Value {
	if !r.Set() {
		return nil
	}
	return c.values[r.Node]
}

func (c *Checked) step(s *Step) *plan.Step {
	n := c.nodes[s]
	ps := &plan.Step{
		ID:              s.ID.Value,
		Kind:            n.kind,
		Name:            s.Name.Value,
		Description:     s.Description.Value,
		Line:            s.Pos.Line,
		If:              c.exprs[&s.If],
		ContinueOnError: s.ContinueOnError.Value,
	}
	if n.outputs != nil && len(n.outputs.Fields) > 0 {
		ps.Outputs = bare(n.outputs)
	}
	switch n.kind {
	case plan.StepAction:
		c.action(s, ps)
	case plan.StepApproval:
		ps.Approval = c.approval(s.Approval)
	case plan.StepParallel:
		ps.Steps = c.stepList(s.Parallel.Items)
		ps.FailFast = !s.FailFast.Set || s.FailFast.Value
	case plan.StepGroup:
		ps.Steps = c.stepList(s.Steps.Items)
	case plan.StepForEach:
		ps.ForEach = c.exprs[&s.ForEach]
		ps.As = or(s.As.Value, DefaultLoopVar)
		ps.MaxConcurrency = plan.Count{N: DefaultMaxConcurrency}
		if s.MaxConcurrency.Set() {
			ps.MaxConcurrency = c.counts[s.MaxConcurrency.Node]
		}
		if s.MaxErrors.Set() {
			ps.MaxErrors = c.maxErrors[s.MaxErrors.Node]
		}
		if s.BatchSize.Set() {
			ps.BatchSize = c.counts[s.BatchSize.Node]
		}
		ps.Steps = c.stepList(s.Steps.Items)
		ps.OnError = c.stepList(s.OnError.Items)
	case plan.StepRunbook:
		ps.Runbook = &plan.SubRunbook{Name: s.Runbook.Name.Value, Params: c.with(&s.Runbook.Params), Plan: c.children[s.Runbook.Name.Value]}
	case plan.StepSleep:
		ps.Sleep = c.durations[&s.Sleep]
	case plan.StepWaitFor:
		w := s.WaitFor
		ps.WaitFor = &plan.WaitFor{Event: w.Event.Value, Timeout: c.durations[&w.Timeout], OnTimeout: or(w.OnTimeout.Value, plan.WaitTimeoutFail), Senders: values(w.Senders.Items)}
	case plan.StepAssert:
		ps.Assert = &plan.Assert{That: c.exprs[&s.Assert.That], Message: c.value(s.Assert.Message)}
	case plan.StepSet:
		ps.Set = c.varList(&s.Set)
	case plan.StepExit:
		ps.Exit = &plan.Exit{Message: c.value(s.Exit.Message)}
	}
	return ps
}

func (c *Checked) action(s *Step, ps *plan.Step) {
	ps.Action = s.Action.Value
	ps.ActionFacts = c.facts(ps.Action)
	ps.With = c.with(&s.With)
	ps.Timeout = c.durations[&s.Timeout]
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
		ps.Retry.MaxInterval = c.durations[&r.MaxInterval]
		ps.Retry.NonRetryable = values(r.NonRetryable.Items)
	}
	if r := s.Repeat; r != nil {
		ps.Repeat = &plan.Repeat{Until: c.exprs[&r.Until], Every: c.durationOr(&r.Every, DefaultRepeatEvery), Timeout: c.durations[&r.Timeout]}
	}
	if cp := s.Compensate; cp != nil {
		ps.Compensate = &plan.Compensate{Action: cp.Action.Value, With: c.with(&cp.With), Steps: c.stepList(cp.Steps.Items)}
		if cp.Action.Value != "" {
			ps.Compensate.ActionFacts = c.facts(cp.Action.Value)
		}
	}
}

// facts is what the interpreter needs of an action, taken from the spec the
// step was checked against and frozen into the plan.
func (c *Checked) facts(action string) plan.ActionFacts {
	spec, ok := c.actions.Action(action)
	if !ok {
		panic(fmt.Sprintf("compile: action %q passed lint but is not in the catalog", action))
	}
	return spec.Facts()
}

func (c *Checked) approval(a *Approval) *plan.Approval {
	pa := &plan.Approval{
		Message:           c.value(a.Message),
		MinApprovals:      DefaultMinApprovals,
		AllowSelfApproval: a.AllowSelfApproval.Value,
		Timeout:           c.durations[&a.Timeout],
		OnTimeout:         or(a.OnTimeout.Value, plan.ApprovalTimeoutReject),
		EscalateTo:        values(a.EscalateTo.Items),
		Inputs:            c.inputs[a],
		RemindEvery:       c.durations[&a.RemindEvery],
	}
	if a.MinApprovals.Set {
		pa.MinApprovals = int(a.MinApprovals.Value)
	}
	if v := c.value(a.Approvers); v != nil && v.IsExpr() {
		pa.ApproversExpr = v.Expr
	} else if a.Approvers.Set() {
		for _, who := range a.Approvers.Node.Content {
			pa.Approvers = append(pa.Approvers, who.Value)
		}
	}
	if nt := a.Notify; nt != nil {
		pa.Notify = map[string]*plan.Value{"url": c.value(nt.URL), "text": c.value(nt.Text)}
	}
	return pa
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
// an *InvalidError and no plan.
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
	return Compile(checked), diags, nil
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
