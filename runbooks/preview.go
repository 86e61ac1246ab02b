package runbooks

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/opsrunbook/runbook/plan"
)

// Preview is a dry run of a plan: resolved params, what each step would
// do given only the params, and the next fire times of each schedule.
type Preview struct {
	Runbook   string            `json:"runbook"`
	Params    []PreviewParam    `json:"params"`
	Vars      []PreviewParam    `json:"vars,omitempty"`
	Steps     []PreviewStep     `json:"steps"`
	Schedules []PreviewSchedule `json:"schedules,omitempty"`
	// Freezes hold the runbook back now or in their next window.
	Freezes []PreviewFreeze `json:"freezes,omitempty"`
}

// PreviewParam is a resolved param and where its value came from.
type PreviewParam struct {
	Name   string `json:"name"`
	Value  any    `json:"value"`
	Source string `json:"source"` // given, default or not given; for vars, the expression
	// Missing marks an optional param without a default that was not given.
	Missing bool `json:"missing,omitempty"`
}

// Decisions a preview can make about a step.
const (
	DecideRun     = "run"
	DecideSkip    = "skip"
	DecideRunTime = "decided at run time"
	// DecideDone is a step of a run that already ended; Reason is its status.
	DecideDone = "done"
)

// PreviewStep says whether a step runs and why.
type PreviewStep struct {
	ID       string         `json:"id"`
	Kind     plan.StepKind  `json:"kind"`
	Section  string         `json:"section"` // steps, onFailure, finally
	Depth    int            `json:"depth"`
	Summary  string         `json:"summary"`
	Decision string         `json:"decision"`
	Reason   string         `json:"reason,omitempty"`
	Inputs   []PreviewInput `json:"inputs,omitempty"`
}

// PreviewInput is an action input rendered as far as params allow.
type PreviewInput struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// PreviewSchedule lists a schedule's next fire times.
type PreviewSchedule struct {
	Name     string      `json:"name"`
	Cron     string      `json:"cron"`
	Timezone string      `json:"timezone"`
	Paused   bool        `json:"paused,omitempty"`
	Next     []time.Time `json:"next"`
}

// PreviewPlan binds params and dry-runs the plan as of now, for user.
func PreviewPlan(p *plan.Plan, given map[string]any, now time.Time, user string) (*Preview, error) {
	return preview(p, given, plan.RunVars{ID: PreviewRunID(p.Name), Name: p.Name, Trigger: plan.RunTriggerAPI,
		TriggeredBy: user, StartedBy: user, StartedAt: now}, nil, now)
}

// preview binds given and dry-runs p for run; done holds the steps that
// already ended, by id (nil for a run not started).
func preview(p *plan.Plan, given map[string]any, run plan.RunVars, done map[string]StepResult, now time.Time) (*Preview, error) {
	params, err := p.BindParams(given)
	if err != nil {
		return nil, err
	}
	ev, err := plan.NewEvaluator(p)
	if err != nil {
		return nil, err
	}
	pv := &Preview{Runbook: p.Name}
	for _, pp := range p.Params {
		v, ok := params[pp.Name]
		if !ok {
			// Lint lets expressions read it only where has() holds.
			pv.Params = append(pv.Params, PreviewParam{Name: pp.Name, Missing: true, Source: "not given; optional without a default, so has(params." + pp.Name + ") is false"})
			continue
		}
		src := "default"
		if _, g := given[pp.Name]; g {
			src = "given"
		}
		pv.Params = append(pv.Params, PreviewParam{Name: pp.Name, Value: v, Source: src})
	}
	ev.SetClock(func() time.Time { return now })
	steps := map[string]any{}
	for id, r := range done {
		steps[id] = r.value()
	}
	pr := &previewer{ev: ev, out: pv, done: done, vars: plan.Vars{
		plan.VarParams: p.ParamVars(params),
		plan.VarRun:    run.Value(),
		plan.VarSteps:  steps,
	}}
	vars := map[string]any{}
	for _, v := range p.Vars {
		x, err := ev.Eval(v.Expr, pr.vars)
		if err != nil {
			return nil, fmt.Errorf("vars.%s: %w", v.Name, err)
		}
		vars[v.Name] = x
		pv.Vars = append(pv.Vars, PreviewParam{Name: v.Name, Value: x, Source: v.Expr.Src})
	}
	pr.vars[plan.VarVars] = vars
	pr.list(p.Steps, "steps", 0, nil)
	pr.list(p.OnFailure, "onFailure", 0, nil)
	pr.list(p.Finally, "finally", 0, nil)
	for _, s := range p.Schedules {
		next, err := NextFires(s, now, 3)
		if err != nil {
			return nil, err
		}
		pv.Schedules = append(pv.Schedules, PreviewSchedule{Name: s.Name, Cron: s.Cron, Timezone: s.Timezone, Paused: s.Paused, Next: next})
	}
	return pv, nil
}

// NextFires returns the next n fire times of a schedule after t, in the
// schedule's time zone.
func NextFires(s plan.Schedule, t time.Time, n int) ([]time.Time, error) {
	loc, err := time.LoadLocation(s.Timezone)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %w", s.Name, err)
	}
	sched, err := cronParser.Parse(s.Cron)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %w", s.Name, err)
	}
	out := make([]time.Time, 0, n)
	at := t.In(loc)
	for range n {
		at = sched.Next(at)
		if at.IsZero() {
			break
		}
		out = append(out, at)
	}
	return out, nil
}

type previewer struct {
	ev      *plan.Evaluator
	out     *Preview
	vars    plan.Vars
	done    map[string]StepResult // steps of the run that ended
	stopped string                // why the main steps surely end early (an exit, a failing assert)
}

// unknown is the steps of ids whose outputs the preview does not have.
func (pr *previewer) unknown(ids []string) []string {
	var out []string
	for _, id := range ids {
		if _, ok := pr.done[id]; !ok {
			out = append(out, id)
		}
	}
	return out
}

// list previews steps inside parent (nil at the top).
func (pr *previewer) list(steps []*plan.Step, section string, depth int, parent *PreviewStep) {
	for _, s := range steps {
		pr.step(s, section, depth, parent)
	}
}

func (pr *previewer) step(s *plan.Step, section string, depth int, parent *PreviewStep) {
	ps := PreviewStep{ID: s.ID, Kind: s.Kind, Section: section, Depth: depth, Summary: summary(s), Decision: DecideRun}
	if r, ok := pr.done[s.ID]; ok {
		ps.Decision, ps.Reason = DecideDone, r.Status
		pr.out.Steps = append(pr.out.Steps, ps)
		if s.Kind != plan.StepForEach { // items have entries of their own
			for _, sec := range s.Children() {
				if sec.Runs != plan.RunsOnUndo && sec.Runs != plan.RunsOnItemError {
					pr.list(sec.Steps, section, depth+1, &ps)
				}
			}
		}
		pr.setVars(s, ps.Decision)
		return
	}
	switch {
	case parent != nil && parent.Decision == DecideDone:
		ps.Decision, ps.Reason = DecideSkip, "not run in "+parent.ID+", which ended"
	case pr.stopped != "" && section == "steps":
		ps.Decision, ps.Reason = DecideSkip, pr.stopped
	case parent != nil && parent.Decision == DecideSkip:
		ps.Decision, ps.Reason = DecideSkip, "inside skipped "+parent.ID
	case parent != nil && parent.Decision == DecideRunTime:
		ps.Decision, ps.Reason = DecideRunTime, "inside "+parent.ID+", decided at run time"
	case s.If != nil:
		ps.Decision, ps.Reason = pr.decide(s.If)
	case section == "onFailure":
		ps.Reason = "only if the run fails"
	}
	if s.Kind == plan.StepForEach && ps.Decision == DecideRun {
		if items, ok := pr.items(s.ForEach); ok {
			ps.Reason = items
		} else {
			ps.Decision, ps.Reason = DecideRunTime, items
		}
	}
	if s.Kind == plan.StepAction && ps.Decision != DecideSkip {
		ps.Inputs = pr.inputs(s.With)
	}
	if s.Kind == plan.StepAssert && ps.Decision == DecideRun {
		ps.Reason = pr.assertion(s.Assert)
	}
	if s.Kind == plan.StepRunbook && ps.Decision != DecideSkip {
		ps.Inputs = pr.inputs(s.Runbook.Params)
	}
	pr.out.Steps = append(pr.out.Steps, ps)
	for _, sec := range s.Children() {
		switch sec.Runs {
		case plan.RunsOnUndo: // compensations are not previewed
		case plan.RunsOnItemError:
			rescue := ps
			if rescue.Decision == DecideRun {
				rescue.Decision, rescue.ID = DecideRunTime, "an item of "+s.ID+" that fails"
			}
			pr.list(sec.Steps, section, depth+1, &rescue)
		default:
			pr.list(sec.Steps, section, depth+1, &ps)
		}
	}
	pr.setVars(s, ps.Decision)
	switch {
	case section != "steps" || ps.Decision != DecideRun:
	case s.Kind == plan.StepExit:
		pr.stopped = "the run ends at exit " + s.ID
	case s.Kind == plan.StepAssert && strings.HasPrefix(ps.Reason, "FAILS"):
		pr.stopped = "the run fails at assert " + s.ID
	}
}

// setVars follows a set step: the vars it sets take their new values
// where the preview can tell them, and are unknown from there on where it
// cannot (an expression reading them is then shown as decided at run time).
func (pr *previewer) setVars(s *plan.Step, decision string) {
	if s.Kind != plan.StepSet || decision == DecideSkip {
		return
	}
	vars := maps.Clone(pr.vars[plan.VarVars].(map[string]any))
	for _, v := range s.Set {
		known := decision != DecideRunTime && len(pr.unknown(v.Expr.Steps)) == 0
		if known {
			x, err := pr.ev.Eval(v.Expr, pr.vars)
			if known = err == nil; known {
				vars[v.Name] = x
			}
		}
		if !known {
			delete(vars, v.Name)
		}
	}
	pr.vars[plan.VarVars] = vars
}

func (pr *previewer) decide(x *plan.Expr) (string, string) {
	if u := pr.unknown(x.Steps); len(u) > 0 {
		return DecideRunTime, "if " + x.Src + " depends on " + stepsList(u)
	}
	ok, err := pr.ev.EvalBool(x, pr.vars)
	if err != nil {
		return DecideRunTime, fmt.Sprintf("if %s: %v", x.Src, innerErr(err))
	}
	if ok {
		return DecideRun, "if " + x.Src + " is true"
	}
	return DecideSkip, "if " + x.Src + " is false"
}

// assertion says whether an assert that reads only params holds.
func (pr *previewer) assertion(a *plan.Assert) string {
	if u := pr.unknown(a.That.Steps); len(u) > 0 {
		return "checked at run time, depends on " + stepsList(u)
	}
	ok, err := pr.ev.EvalBool(a.That, pr.vars)
	switch {
	case err != nil:
		return fmt.Sprintf("checked at run time: %v", innerErr(err))
	case ok:
		return "holds"
	case a.Message != nil:
		return "FAILS: " + pr.render(a.Message)
	}
	return "FAILS"
}

func (pr *previewer) items(x *plan.Expr) (string, bool) {
	if u := pr.unknown(x.Steps); len(u) > 0 {
		return "items depend on " + stepsList(u), false
	}
	v, err := pr.ev.Eval(x, pr.vars)
	if err != nil {
		return fmt.Sprintf("items: %v", innerErr(err)), false
	}
	l, _ := v.([]any)
	return fmt.Sprintf("once per item (%d): %s", len(l), compactJSON(l)), true
}

func (pr *previewer) inputs(with map[string]*plan.Value) []PreviewInput {
	var out []PreviewInput
	for _, k := range plan.SortedKeys(with) {
		out = append(out, PreviewInput{Name: k, Value: pr.render(with[k])})
	}
	return out
}

// render shows a value as far as params allow; secrets are never shown.
func (pr *previewer) render(v *plan.Value) string {
	var secrets, steps []string
	v.Exprs(func(x *plan.Expr) {
		secrets = append(secrets, x.Secrets...)
		steps = append(steps, pr.unknown(x.Steps)...)
	})
	slices.Sort(steps)
	steps = slices.Compact(steps)
	switch {
	case len(secrets) > 0:
		return fmt.Sprintf("(uses secret %s; resolved by the worker)", strings.Join(secrets, ", "))
	case len(steps) > 0:
		return "(at run time, from " + stepsList(steps) + ")"
	}
	x, err := pr.ev.Render(v, pr.vars)
	if err != nil {
		if strings.Contains(err.Error(), "no such attribute") {
			return "(at run time)" // reads a loop variable, error or alert
		}
		return fmt.Sprintf("(at run time: %v)", innerErr(err))
	}
	if s, ok := x.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return compactJSON(x)
}

func innerErr(err error) error {
	if e, ok := err.(*plan.EvalError); ok {
		return e.Err
	}
	return err
}

func stepsList(ids []string) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = "steps." + id
	}
	return strings.Join(parts, ", ")
}

func compactJSON(v any) string {
	switch x := v.(type) {
	case time.Duration:
		return plan.FormatDuration(x)
	case time.Time:
		return x.Format(time.RFC3339)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// summary is a one-line description of what a step does.
func summary(s *plan.Step) string {
	switch s.Kind {
	case plan.StepAction:
		return "action " + s.Action
	case plan.StepApproval:
		a := s.Approval
		return fmt.Sprintf("approval by %d of %s", a.MinApprovals, strings.Join(a.Approvers, ", "))
	case plan.StepParallel:
		return fmt.Sprintf("parallel, %d branches", len(s.Steps))
	case plan.StepGroup:
		return fmt.Sprintf("group of %d steps", len(s.Steps))
	case plan.StepForEach:
		return fmt.Sprintf("forEach %s in %s", s.As, s.ForEach.Src)
	case plan.StepRunbook:
		return "runbook " + s.Runbook.Name
	case plan.StepSleep:
		return "sleep " + s.Sleep.String()
	case plan.StepAssert:
		return "assert " + s.Assert.That.Src
	case plan.StepSet:
		names := make([]string, len(s.Set))
		for i, v := range s.Set {
			names[i] = "vars." + v.Name
		}
		return "set " + strings.Join(names, ", ")
	case plan.StepExit:
		return "exit: end the run successfully"
	case plan.StepWaitFor:
		w := "waitFor event " + s.WaitFor.Event
		if !s.WaitFor.Timeout.IsZero() {
			w += " (timeout " + s.WaitFor.Timeout.String() + ", then " + string(s.WaitFor.OnTimeout) + ")"
		}
		return w
	}
	return string(s.Kind)
}

// String renders the preview for a terminal.
func (pv *Preview) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Runbook %s\n", pv.Runbook)
	if len(pv.Params) > 0 {
		b.WriteString("\nParams:\n")
		for _, p := range pv.Params {
			if p.Missing {
				fmt.Fprintf(&b, "  %s (%s)\n", p.Name, p.Source)
				continue
			}
			fmt.Fprintf(&b, "  %s = %s (%s)\n", p.Name, compactJSON(p.Value), p.Source)
		}
	}
	if len(pv.Vars) > 0 {
		b.WriteString("\nVars:\n")
		for _, v := range pv.Vars {
			fmt.Fprintf(&b, "  %s = %s (%s)\n", v.Name, compactJSON(v.Value), v.Source)
		}
	}
	section := ""
	for _, s := range pv.Steps {
		if s.Section != section {
			section = s.Section
			fmt.Fprintf(&b, "\n%s:\n", map[string]string{"steps": "Steps", "onFailure": "On failure", "finally": "Finally"}[section])
		}
		indent := strings.Repeat("  ", s.Depth+1)
		mark := map[string]string{DecideRun: "RUN ", DecideSkip: "SKIP", DecideRunTime: "LATER", DecideDone: "DONE"}[s.Decision]
		fmt.Fprintf(&b, "%s%-5s %s: %s", indent, mark, s.ID, s.Summary)
		if s.Reason != "" {
			fmt.Fprintf(&b, "  [%s]", s.Reason)
		}
		b.WriteString("\n")
		for _, in := range s.Inputs {
			fmt.Fprintf(&b, "%s        %s: %s\n", indent, in.Name, in.Value)
		}
	}
	if len(pv.Freezes) > 0 {
		b.WriteString("\nFreezes:\n")
		for _, f := range pv.Freezes {
			b.WriteString("  " + f.String() + "\n")
		}
	}
	if len(pv.Schedules) > 0 {
		b.WriteString("\nSchedules:\n")
		for _, s := range pv.Schedules {
			paused := ""
			if s.Paused {
				paused = " (paused)"
			}
			fmt.Fprintf(&b, "  %s: %q in %s%s, next:", s.Name, s.Cron, s.Timezone, paused)
			for _, t := range s.Next {
				fmt.Fprintf(&b, " %s;", t.Format("2006-01-02 15:04 MST"))
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

// PreviewRunID is the run.id a preview shows: well-formed like a real one
// (the name, a dash, 26 characters of the id alphabet), all zeros.
func PreviewRunID(name string) string { return name + "-" + strings.Repeat("0", 26) }
