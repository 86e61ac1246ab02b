package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/runbooks"
	"github.com/opsrunbook/runbook/store"
)

// MaxBreakGlassReason bounds the reason a break-glass start gives.
const MaxBreakGlassReason = 1024

// freezeGate decides a start of p at now against the registered freezes:
// nil exceptions and no error when none holds it back; a 409 naming the
// freeze and its end when one does and the start may not break the glass
// (no breakGlass reason given, or the freeze allows none); else the
// exceptions the run must be approved under.
func (a *API) freezeGate(p *plan.Plan, o origin, now time.Time) ([]plan.FreezeException, error) {
	freezes, err := a.Store.CompiledFreezes()
	if err != nil {
		return nil, err
	}
	return freezeCheck(freezes, p, o, now)
}

// freezeCheck is freezeGate with the freezes read.
func freezeCheck(freezes []*plan.Freeze, p *plan.Plan, o origin, now time.Time) ([]plan.FreezeException, error) {
	var out []plan.FreezeException
	for _, f := range freezes {
		if !f.Selects(p.Name, p.Labels) {
			continue
		}
		iv, active, err := f.ActiveAt(now)
		if err != nil { // fail closed: a freeze this process cannot read holds its runbooks back
			return nil, problem(http.StatusServiceUnavailable, "freeze "+f.Name+" cannot be checked: "+err.Error())
		}
		if !active {
			continue
		}
		msg := runbooks.FreezeProblem(p.Name, f, iv.To)
		detail := map[string]any{"freeze": f.Name, "until": iv.To.UTC().Format(time.RFC3339), "reason": f.Reason}
		switch {
		case f.BreakGlass == nil:
			return nil, problem(http.StatusConflict, msg, detail)
		case o.breakGlass == "":
			detail["breakGlass"] = f.BreakGlass.Approvers
			return nil, problem(http.StatusConflict, msg+"; it allows a break-glass start: give a reason (breakGlass in the body; runbook run or rerun --break-glass REASON) to hold the run for approval by "+strings.Join(f.BreakGlass.Approvers, ", "), detail)
		}
		out = append(out, plan.FreezeException{Freeze: f.Name, Reason: f.Reason, Until: iv.To.UTC(), Approvers: f.BreakGlass.Approvers,
			MinApprovals: f.BreakGlass.MinApprovals, AskedBy: o.startedBy, Why: o.breakGlass})
	}
	if o.breakGlass != "" && len(out) == 0 {
		return nil, problem(http.StatusUnprocessableEntity, "breakGlass: no freeze holds runbook "+p.Name+" back now")
	}
	return out, nil
}

// exceptionsOf are a run's recorded exceptions.
func exceptionsOf(r *store.Run) []plan.FreezeException {
	var out []plan.FreezeException
	if len(r.Exceptions) > 0 {
		_ = json.Unmarshal(r.Exceptions, &out)
	}
	return out
}

// runPlan is the plan a recorded run runs: its version's, with the
// approvals of its freeze exceptions first.
func (a *API) runPlan(r *store.Run) (*plan.Plan, error) {
	v, err := a.Store.Runbook(r.Runbook, r.Version)
	if err != nil {
		return nil, notFoundOr(err, fmt.Sprintf("runbook %s version %d is not recorded", r.Runbook, r.Version))
	}
	p, err := v.PlanOf()
	if err != nil {
		return nil, err
	}
	return plan.WithExceptions(p, exceptionsOf(r)), nil
}

// BlackoutHorizon is how far ahead a run's or a schedule's blackouts are
// computed; the server refreshes the schedules' daily (and whenever a
// freeze is registered or lifted).
const BlackoutHorizon = 62 * 24 * time.Hour

// blackoutsOf are the windows of freezes over the runbooks of p's tree
// (p and its sub-runbooks) from now to BlackoutHorizon: what a schedule's
// launcher and a run's sub-runbook steps check, in the workflow.
func blackoutsOf(freezes []*plan.Freeze, p *plan.Plan, now time.Time) ([]plan.Blackout, error) {
	books := map[string]*plan.Plan{}
	var walk func(p *plan.Plan)
	walk = func(p *plan.Plan) {
		if _, seen := books[p.Name]; seen {
			return
		}
		books[p.Name] = p
		p.Walk(func(s *plan.Step) bool {
			if s.Runbook != nil && s.Runbook.Plan != nil {
				walk(s.Runbook.Plan)
			}
			return true
		})
	}
	walk(p)
	var out []plan.Blackout
	for _, f := range freezes {
		var names []string
		for _, name := range plan.SortedKeys(books) {
			if f.Selects(name, books[name].Labels) {
				names = append(names, name)
			}
		}
		if len(names) == 0 {
			continue
		}
		ivs, err := f.Merged(now, now.Add(BlackoutHorizon), MaxBlackouts)
		if err != nil {
			return nil, err
		}
		for _, iv := range ivs {
			out = append(out, plan.Blackout{Freeze: f.Name, Reason: f.Reason, From: iv.From, To: iv.To, Runbooks: slices.Clone(names)})
		}
	}
	if len(out) > MaxBlackouts { // the soonest: a run's input stays small
		slices.SortFunc(out, func(a, b plan.Blackout) int { return a.From.Compare(b.From) })
		out = out[:MaxBlackouts]
	}
	return out, nil
}

// MaxBlackouts bounds the windows one run's or schedule's input carries
// (about 200 bytes each); past it, the soonest are kept.
const MaxBlackouts = 1000

// excepted is bs without the blackouts of the freezes a run was excepted
// from: its sub-runbooks start under the same exception.
func excepted(bs []plan.Blackout, exceptions []plan.FreezeException) []plan.Blackout {
	if len(exceptions) == 0 {
		return bs
	}
	return slices.DeleteFunc(bs, func(b plan.Blackout) bool {
		return slices.ContainsFunc(exceptions, func(e plan.FreezeException) bool { return e.Freeze == b.Freeze })
	})
}
