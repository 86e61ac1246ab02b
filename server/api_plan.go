package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/runbooks"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/workflows"
)

type planRequest struct {
	Params  map[string]any `json:"params"`
	Version int            `json:"version"`
}

// previewRunbook is `runbook plan` over the API: the params bound as a
// start by the caller would bind them, and what each step would do.
func (a *API) previewRunbook(c echo.Context) error {
	var req planRequest
	if err := decodeBody(c, &req, true); err != nil {
		return err
	}
	if req.Version < 0 {
		return problem(http.StatusBadRequest, "version must be a positive integer")
	}
	v, err := a.Store.Runbook(c.Param("name"), req.Version)
	if err != nil && req.Version > 0 {
		if _, lerr := a.Store.Runbook(c.Param("name"), 0); lerr == nil {
			return notFoundOr(err, fmt.Sprintf("runbook %s has no version %d", c.Param("name"), req.Version))
		}
	}
	if err != nil {
		return notFoundOr(err, "no runbook "+c.Param("name"))
	}
	p, err := v.PlanOf()
	if err != nil {
		return err
	}
	now := time.Now()
	pv, err := runbooks.PreviewPlan(p, req.Params, now, identity(c).User)
	if err != nil {
		return previewProblem(err)
	}
	freezes, err := a.Store.CompiledFreezes()
	if err != nil {
		return err
	}
	pv.Freezes = runbooks.FreezesFor(p, freezes, now)
	return c.JSON(http.StatusOK, struct {
		Version int `json:"version"`
		*runbooks.Preview
	}{v.Version, pv})
}

// previewRun is what is left of a running run: the steps that ended are
// done, the others previewed with those steps' outputs.
func (a *API) previewRun(c echo.Context) error {
	r, err := a.Store.Run(c.Param("id"))
	if err != nil {
		return notFoundOr(err, "no run "+c.Param("id"))
	}
	if workflows.Ended(r.Status) {
		return problem(http.StatusConflict, fmt.Sprintf("run %s has already ended: %s", r.ID, r.Status))
	}
	p := a.planOf(map[string]*plan.Plan{}, r)
	if p == nil {
		return problem(http.StatusNotFound, fmt.Sprintf("runbook %s version %d is not registered", r.Runbook, r.Version))
	}
	ended, stale, err := a.endedSteps(c, r)
	if err != nil {
		return err
	}
	if ended == nil { // ended since the records said running
		return problem(http.StatusConflict, fmt.Sprintf("run %s has already ended", r.ID))
	}
	var params map[string]any
	_ = json.Unmarshal(r.Params, &params)
	st := runbooks.RunState{Params: params, Ended: ended, Run: plan.RunVars{ID: r.ID, Name: r.Runbook, Version: r.Version,
		Trigger: plan.RunTrigger(r.Trigger), TriggeredBy: r.TriggeredBy, StartedBy: r.StartedBy, StartedAt: r.CreatedAt}}
	pv, err := runbooks.PreviewRun(p, st, time.Now())
	if err != nil {
		return previewProblem(err)
	}
	return c.JSON(http.StatusOK, struct {
		Run   string `json:"run"`
		Stale bool   `json:"stale,omitempty"`
		*runbooks.Preview
	}{r.ID, stale, pv})
}

// endedSteps reads a running run's timeline, a page at a time, for the
// steps outside forEach items that ended; nil once the run has ended.
func (a *API) endedSteps(c echo.Context, r *store.Run) (map[string]runbooks.StepResult, bool, error) {
	out := map[string]runbooks.StepResult{}
	page := workflows.StatusPage{Limit: workflows.MaxStepsLimit}
	for {
		st, stale, err := a.liveStatusPage(c.Request().Context(), r, page)
		if err != nil {
			return nil, false, problem(http.StatusServiceUnavailable, "the run's timeline could not be read", err.Error())
		}
		if workflows.Ended(st.Status) {
			return nil, false, nil
		}
		for _, s := range st.Steps {
			if s.Item != nil || s.Loop != "" || s.Phase != "" || !stepEnded[s.Status] {
				continue
			}
			outputs, _ := plan.DecodeVars(s.Outputs)
			out[s.ID] = runbooks.StepResult{Status: s.Status, Outputs: outputs}
		}
		page.Offset += len(st.Steps)
		if stale || len(st.Steps) == 0 || page.Offset >= st.StepsTotal {
			return out, stale, nil
		}
	}
}

// stepEnded are the statuses of a step whose outputs are final.
var stepEnded = map[string]bool{workflows.StatusSucceeded: true, workflows.StatusFailed: true, workflows.StatusSkipped: true,
	workflows.StatusCompensated: true, workflows.StatusCancelled: true, workflows.StatusReused: true}

// previewProblem is 422 for params that do not bind, 400 otherwise (a
// var the params make fail).
func previewProblem(err error) error {
	if pe := paramProblem(err); pe != err {
		return pe
	}
	return problem(http.StatusUnprocessableEntity, "the plan cannot be previewed with these params", err.Error())
}
