package runbooks

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
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
func Compile(c *Checked) *Plan {
	doc := c.doc
	sum := sha256.Sum256(c.src)
	p := &Plan{
		PlanVersion: PlanVersion,
		Name:        doc.Metadata.Name.Value,
		Title:       doc.Metadata.Title.Value,
		Description: doc.Metadata.Description.Value,
		File:        doc.file,
		Hash:        hex.EncodeToString(sum[:]),
		Params:      c.params,
		Timeout:     c.duration(doc.Spec.Timeout),
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
		p.Concurrency = &PlanConcurrency{Key: c.exprs[&cc.Key], OnConflict: or(cc.OnConflict.Value, "reject")}
	}
	for _, s := range doc.Spec.Schedules.Items {
		p.Schedules = append(p.Schedules, PlanSchedule{
			Name:          s.Name.Value,
			Cron:          s.Cron.Value,
			Timezone:      or(s.Timezone.Value, "UTC"),
			Params:        c.schedules[s],
			Overlap:       or(s.Overlap.Value, "skip"),
			CatchupWindow: c.duration(s.CatchupWindow),
			Paused:        s.Paused.Value,
		})
	}
	for _, t := range doc.Spec.Triggers.Items {
		am := t.Alertmanager
		pt := PlanTrigger{Kind: "alertmanager", Match: c.exprs[&am.Match]}
		for i := range am.Params.Entries {
			e := &am.Params.Entries[i]
			if pt.Params == nil {
				pt.Params = map[string]*Expr{}
			}
			pt.Params[e.Key] = c.exprs[&e.Value]
		}
		p.Triggers = append(p.Triggers, pt)
	}
	p.Steps = c.stepList(doc.Spec.Steps.Items)
	p.OnFailure = c.stepList(doc.Spec.OnFailure.Items)
	p.Finally = c.stepList(doc.Spec.Finally.Items)
	for i := range doc.Spec.Outputs.Entries {
		e := &doc.Spec.Outputs.Entries[i]
		p.Outputs = append(p.Outputs, PlanOutput{Name: e.Key, Expr: c.exprs[&e.Value], Type: c.outputTypes[e.Key]})
	}
	return p
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func (c *Checked) duration(s String) Duration {
	if !s.Set {
		return 0
	}
	d, _ := ParseDuration(s.Value) // lint checked it
	return Duration(d)
}

func (c *Checked) stepList(steps []*Step) []*PlanStep {
	if len(steps) == 0 {
		return nil
	}
	out := make([]*PlanStep, len(steps))
	for i, s := range steps {
		out[i] = c.step(s)
	}
	return out
}

func (c *Checked) with(m *Map[Raw]) map[string]*Value {
	if m.Len() == 0 {
		return nil
	}
	out := make(map[string]*Value, m.Len())
	for _, e := range m.Entries {
		out[e.Key] = c.values[e.Value.Node]
	}
	return out
}

func (c *Checked) step(s *Step) *PlanStep {
	n := c.steps[s.ID.Value]
	ps := &PlanStep{
		ID:              s.ID.Value,
		Kind:            n.kind,
		Name:            s.Name.Value,
		Description:     s.Description.Value,
		Line:            s.Pos.Line,
		If:              c.exprs[&s.If],
		ContinueOnError: s.ContinueOnError.Value,
	}
	if n.outputs != nil && len(n.outputs.Fields) > 0 {
		ps.Outputs = n.outputs
	}
	switch n.kind {
	case StepAction:
		ps.Action = s.Action.Value
		ps.With = c.with(&s.With)
		ps.Timeout = c.duration(s.Timeout)
		ps.Retry = &PlanRetry{MaxAttempts: 1, InitialInterval: Duration(DefaultRetryInitial), Backoff: DefaultRetryBackoff}
		if r := s.Retry; r != nil {
			ps.Retry.MaxAttempts = DefaultRetryAttempts
			if r.MaxAttempts.Set {
				ps.Retry.MaxAttempts = int(r.MaxAttempts.Value)
			}
			if r.InitialInterval.Set {
				ps.Retry.InitialInterval = c.duration(r.InitialInterval)
			}
			if r.Backoff.Set {
				ps.Retry.Backoff = r.Backoff.Value
			}
			ps.Retry.MaxInterval = c.duration(r.MaxInterval)
			for _, t := range r.NonRetryable.Items {
				ps.Retry.NonRetryable = append(ps.Retry.NonRetryable, t.Value)
			}
		}
		if r := s.Repeat; r != nil {
			ps.Repeat = &PlanRepeat{Until: c.exprs[&r.Until], Every: Duration(DefaultRepeatEvery), Timeout: c.duration(r.Timeout)}
			if r.Every.Set {
				ps.Repeat.Every = c.duration(r.Every)
			}
		}
		if cp := s.Compensate; cp != nil {
			ps.Compensate = &PlanCompensate{Action: cp.Action.Value, With: c.with(&cp.With)}
		}
	case StepApproval:
		a := s.Approval
		pa := &PlanApproval{
			MinApprovals:      DefaultMinApprovals,
			AllowSelfApproval: a.AllowSelfApproval.Value,
			Timeout:           c.duration(a.Timeout),
			OnTimeout:         or(a.OnTimeout.Value, "reject"),
		}
		if a.Message.Set() {
			pa.Message = c.values[a.Message.Node]
		}
		if a.MinApprovals.Set {
			pa.MinApprovals = int(a.MinApprovals.Value)
		}
		for _, who := range a.Approvers.Items {
			pa.Approvers = append(pa.Approvers, who.Value)
		}
		for _, who := range a.EscalateTo.Items {
			pa.EscalateTo = append(pa.EscalateTo, who.Value)
		}
		ps.Approval = pa
	case StepParallel:
		ps.Steps = c.stepList(s.Parallel.Items)
		ps.FailFast = !s.FailFast.Set || s.FailFast.Value
	case StepGroup:
		ps.Steps = c.stepList(s.Steps.Items)
	case StepForEach:
		ps.ForEach = c.exprs[&s.ForEach]
		ps.As = or(s.As.Value, DefaultLoopVar)
		ps.MaxConcurrency = DefaultMaxConcurrency
		if s.MaxConcurrency.Set {
			ps.MaxConcurrency = int(s.MaxConcurrency.Value)
		}
		ps.Steps = c.stepList(s.Steps.Items)
	case StepRunbook:
		ps.Runbook = &PlanSubRunbook{Name: s.Runbook.Name.Value, Params: c.with(&s.Runbook.Params), Plan: c.children[s.Runbook.Name.Value]}
	case StepSleep:
		ps.Sleep = c.duration(s.Sleep)
	case StepWaitFor:
		ps.WaitFor = &PlanWaitFor{Event: s.WaitFor.Event.Value, Timeout: c.duration(s.WaitFor.Timeout), OnTimeout: or(s.WaitFor.OnTimeout.Value, "fail")}
	}
	return ps
}

// Build parses, lints and compiles one runbook file. It returns every
// diagnostic (warnings included) and, when there is an error among them,
// an *InvalidError and no plan.
func Build(file string, src []byte, opts Options) (*Plan, Diagnostics, error) {
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
