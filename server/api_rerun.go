package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/rerun"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/workflows"
)

// Caps of a rerun request.
const (
	MaxRerunReason = 1024
	// MaxRerunReuse bounds the recorded entries a rerun carries into the
	// new run's input (gzipped JSON), well under Temporal's 2 MB payload.
	MaxRerunReuse = 1 << 20
)

// Versions a rerun runs.
const (
	RerunSame   = "same"
	RerunLatest = "latest"
)

type rerunRequest struct {
	From    string         `json:"from"`
	Version string         `json:"version"`
	Params  map[string]any `json:"params"`
	Reason  string         `json:"reason"`
	// BreakGlass, as a start's: why the rerun must start during a freeze.
	BreakGlass string `json:"breakGlass"`
}

// rerunView is the new run, and what it reuses of the earlier one.
type rerunView struct {
	runView
	*rerun.Result
}

// rerunRun starts a new run of a recorded run that has ended: from the top,
// or resumed from a step with the earlier run's results before it. The
// rules are rerun.Decide's; docs/execution.md#rerun-and-resume.
func (a *API) rerunRun(c echo.Context) error {
	old, err := a.Store.Run(c.Param("id"))
	if err != nil {
		return notFoundOr(err, "no run "+c.Param("id"))
	}
	user := identity(c).User
	var req rerunRequest
	refuse := func(err error) error {
		if reason, status, ok := refusal(err); ok {
			a.appendRefusal(c, store.AuditRecord{Actor: user, Action: store.ActionRunRerun, Target: old.ID, Run: old.ID, Runbook: old.Runbook,
				Refused: reason, Detail: store.RerunDetail{Of: old.ID, From: req.From, Version: old.Version, Reason: req.Reason, Status: status}})
		}
		return err
	}
	if err := decodeBody(c, &req, true); err != nil {
		return refuse(err)
	}
	if err := checkRerunRequest(&req); err != nil {
		return refuse(err)
	}
	steps, err := a.finalTimeline(c, old)
	if err != nil {
		return refuse(err)
	}
	v, err := a.Store.Runbook(old.Runbook, map[string]int{RerunSame: old.Version, RerunLatest: 0}[req.Version])
	if err != nil {
		return refuse(notFoundOr(err, fmt.Sprintf("runbook %s has no version %d", old.Runbook, old.Version)))
	}
	p, err := v.PlanOf()
	if err != nil {
		return err
	}
	params, changed, err := rerunParams(p, old, req.Params)
	if err != nil {
		return refuse(err)
	}
	changed = changed || v.Version != old.Version
	in := rerun.Input{Plan: p, Run: old.ID, Old: steps, Failed: old.FailedStep, Changed: changed}
	if req.From != "" {
		t, err := rerun.ParseTarget(req.From)
		if err != nil {
			return refuse(problem(http.StatusUnprocessableEntity, "from: "+err.Error()))
		}
		in.From = &t
	}
	res, probs := rerun.Decide(in)
	if len(probs) > 0 {
		details := make([]any, len(probs))
		for i, d := range probs {
			details[i] = d
		}
		return refuse(problem(http.StatusUnprocessableEntity, fmt.Sprintf("cannot resume run %s from %s", old.ID, req.From), details...))
	}
	seed := &workflows.Rerun{Of: old.ID, From: req.From, By: user, Reason: req.Reason}
	if len(res.Reuse) > 0 {
		if seed.Reuse, err = workflows.EncodeReuse(res.Reuse); err != nil {
			return err
		}
		if len(seed.Reuse) > MaxRerunReuse {
			return refuse(problem(http.StatusRequestEntityTooLarge, fmt.Sprintf("the results to reuse are %d bytes gzipped; at most %d: resume from an earlier step", len(seed.Reuse), MaxRerunReuse),
				map[string]any{"field": "from", "size": len(seed.Reuse), "limit": MaxRerunReuse}))
		}
	}
	if len(req.BreakGlass) > MaxBreakGlassReason {
		return refuse(problem(http.StatusUnprocessableEntity, fmt.Sprintf("breakGlass is %d bytes; the limit is %d", len(req.BreakGlass), MaxBreakGlassReason)))
	}
	o := origin{trigger: plan.RunTriggerAPI, triggeredBy: user, startedBy: user, rerun: seed, breakGlass: strings.TrimSpace(req.BreakGlass),
		key: apiKey(p.Name+"\x00rerun\x00"+old.ID, user, c.Request().Header.Get("Idempotency-Key"))}
	run, status, err := a.start(c, p, v.Version, params, o)
	if err != nil {
		return err
	}
	view := []runView{recordView(run)}
	a.withHashes(view)
	return c.JSON(status, rerunView{runView: view[0], Result: res})
}

func checkRerunRequest(req *rerunRequest) error {
	var details []any
	switch req.Version {
	case "":
		req.Version = RerunSame
	case RerunSame, RerunLatest:
	default:
		details = append(details, map[string]any{"field": "version", "message": fmt.Sprintf("version must be %q or %q, not %q", RerunSame, RerunLatest, req.Version)})
	}
	if len(req.Reason) > MaxRerunReason {
		details = append(details, map[string]any{"field": "reason", "message": fmt.Sprintf("reason is %d bytes; at most %d", len(req.Reason), MaxRerunReason), "size": len(req.Reason), "limit": MaxRerunReason})
		req.Reason = ""
	}
	if len(details) > 0 {
		return problem(http.StatusUnprocessableEntity, "invalid rerun", details...)
	}
	return nil
}

// finalTimeline is the whole timeline of a run that has ended, recorded
// first if it was not; a run still running is 409.
func (a *API) finalTimeline(c echo.Context, r *store.Run) ([]workflows.StepState, error) {
	if workflows.Ended(r.Status) && r.Recorded > 0 {
		steps := a.recordedSteps(r.ID)
		settleSteps(steps)
		return steps, nil
	}
	st, _, err := a.liveStatus(c.Request().Context(), r.ID)
	if err != nil {
		return nil, problem(http.StatusServiceUnavailable, "the run's timeline cannot be read: "+err.Error())
	}
	if !workflows.Ended(st.Status) {
		return nil, problem(http.StatusConflict, fmt.Sprintf("run %s is still running: wait for it to end or cancel it, then rerun it", r.ID))
	}
	if err := a.recordEnd(r, st); err != nil {
		return nil, err
	}
	steps := append([]workflows.StepState(nil), st.Steps...)
	settleSteps(steps)
	return steps, nil
}

// rerunParams are the earlier run's params with the given ones over them,
// bound to p: params p does not declare are dropped (a later version may
// have removed them), unless given. changed says whether they differ from
// the earlier run's.
func rerunParams(p *plan.Plan, old *store.Run, given map[string]any) (map[string]any, bool, error) {
	var was map[string]any
	if err := json.Unmarshal(old.Params, &was); err != nil && len(old.Params) > 0 {
		return nil, false, fmt.Errorf("params of run %s: %w", old.ID, err)
	}
	declared := map[string]bool{}
	for _, d := range p.Params {
		declared[d.Name] = true
	}
	merged := map[string]any{}
	for k, v := range was {
		if declared[k] {
			merged[k] = v
		}
	}
	for k, v := range given {
		merged[k] = v
	}
	// Fixed params take their default whatever the earlier run had.
	for _, d := range p.Params {
		if _, set := given[d.Name]; d.Fixed && !set {
			delete(merged, d.Name)
		}
	}
	params, err := p.BindParams(merged)
	if err != nil {
		return nil, false, paramProblem(err)
	}
	a, _ := json.Marshal(params)
	b, _ := json.Marshal(was)
	return params, !bytes.Equal(a, b), nil
}
