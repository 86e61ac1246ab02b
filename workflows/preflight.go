package workflows

import (
	"fmt"
	"strings"
	"time"

	"github.com/opsrunbook/runbook/plan"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// ErrNoApprovers is the type of an approval failure for want of approvers.
const ErrNoApprovers = "NoApprovers"

// preflight checks, before the first step runs, what can be known to fail
// from the start: approvals whose approvers come out empty, and secrets
// the worker cannot resolve. A failure ends
// the run with no step run, no onFailure and no finally.
func (r *run) preflight(ctx workflow.Context) *stepError {
	if workflow.GetVersion(ctx, "approvers-at-start", workflow.DefaultVersion, 1) >= 1 {
		if se := r.checkApprovers(); se != nil {
			return se
		}
	}
	if names := planSecrets(r.plan); len(names) > 0 && workflow.GetVersion(ctx, "secrets-preflight", workflow.DefaultVersion, 1) >= 1 {
		return r.checkSecrets(ctx, names)
	}
	return nil
}

// SecretsCheckTimeout bounds the secrets check before the first step.
const SecretsCheckTimeout = time.Minute

// checkSecrets asks a worker whether it can resolve every secret the plan
// reads; the answer holds names only.
func (r *run) checkSecrets(ctx workflow.Context, names []string) *stepError {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: SecretsCheckTimeout,
		RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 3}})
	var out plan.SecretsCheckOutput
	if err := workflow.ExecuteActivity(actx, plan.SecretsCheck, plan.SecretsCheckInput{Names: names}).Get(ctx, &out); err != nil {
		se := r.asStepError(activityError("", err), false)
		se.message = "secrets check: " + se.message
		return se
	}
	var probs []string
	if len(out.Missing) > 0 {
		probs = append(probs, "missing "+strings.Join(out.Missing, ", "))
	}
	if len(out.TooShort) > 0 {
		probs = append(probs, fmt.Sprintf("too short to be redacted: %s", strings.Join(out.TooShort, ", ")))
	}
	if len(probs) == 0 {
		return nil
	}
	return &stepError{typ: plan.ErrSecret,
		message: "secrets the run reads cannot be resolved on the worker: " + strings.Join(probs, "; ") + " (checked when the run starts)"}
}

// planSecrets lists, sorted, the secrets the plan's templates read (action
// and compensation inputs, notifications), its sub-runbooks' included.
func planSecrets(p *plan.Plan) []string {
	seen := map[string]bool{}
	add := func(with map[string]*plan.Value) {
		for _, k := range plan.SortedKeys(with) {
			if v := with[k]; v != nil {
				v.Exprs(func(x *plan.Expr) {
					for _, n := range x.Secrets {
						seen[n] = true
					}
				})
			}
		}
	}
	var visit func(*plan.Plan)
	visit = func(p *plan.Plan) {
		p.Walk(func(s *plan.Step) bool {
			add(s.With)
			if s.Compensate != nil {
				add(s.Compensate.With)
			}
			if s.Approval != nil {
				add(s.Approval.Notify)
			}
			if s.Runbook != nil && s.Runbook.Plan != nil {
				visit(s.Runbook.Plan)
			}
			return true
		})
	}
	visit(p)
	return plan.SortedKeys(seen)
}

// checkApprovers evaluates, with params and run only (what approvers
// expressions read, and what does not change while the run goes on), the
// approvers of every approval the run reaches unless an earlier step
// fails: not those under an if that is not true at start, nor those in a
// forEach (it may have no items), nor in onError or compensations (they run
// on failure), nor in sub-runbooks (they check their own).
func (r *run) checkApprovers() *stepError {
	vars := plan.Vars{plan.VarParams: r.params, plan.VarRun: r.runVar}
	var found *stepError
	var walk func(steps []*plan.Step)
	walk = func(steps []*plan.Step) {
		for _, s := range steps {
			if found != nil {
				return
			}
			if s.If != nil {
				if ok, err := r.ev.EvalBool(s.If, vars); err != nil || !ok {
					continue
				}
			}
			if a := s.Approval; a != nil && a.ApproversExpr != nil && len(a.ApproversExpr.Steps) == 0 {
				if x, err := r.ev.Eval(a.ApproversExpr, vars); err == nil && len(approverList(x)) == 0 {
					found = &stepError{step: s.ID, typ: ErrNoApprovers,
						message: "the approval has no approvers: " + a.ApproversExpr.Src + " gave an empty list (checked when the run starts)"}
					return
				}
			}
			for _, sec := range s.Children() {
				if sec.Runs == plan.RunsInline {
					walk(sec.Steps)
				}
			}
		}
	}
	for _, list := range [][]*plan.Step{r.plan.Steps, r.plan.OnFailure, r.plan.Finally} {
		walk(list)
	}
	return found
}

// approverList keeps the non-empty strings of an approvers expression's list.
func approverList(x any) []string {
	list, _ := x.([]any)
	var out []string
	for _, e := range list {
		if s, ok := e.(string); ok && s != "" {
			out = append(out, s)
		}
	}
	return out
}

// refuse ends a run that failed its preflight: no step ran. The step the
// failure names, if any, shows the error in the timeline.
func (r *run) refuse(ctx workflow.Context, se *stepError) (*RunResult, error) {
	now := workflow.Now(ctx)
	if st := r.root.lookup(se.step); st != nil && se.step != "" {
		st.Status, st.Error, st.ErrorType, st.EndedAt = StatusFailed, se.message, se.typ, &now
	}
	r.status.Status, r.status.Error, r.status.ErrorType, r.status.FailedStep = RunFailed, se.message, se.typ, se.step
	r.status.EndedAt = &now
	return nil, temporal.NewNonRetryableApplicationError(se.message, se.typ, nil, r.status)
}
