package server

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/opsrunbook/runbook/plan"

	"github.com/labstack/echo/v4"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/opsrunbook/runbook/runbooks"
	"github.com/opsrunbook/runbook/store"
)

// scheduleView is a schedule as the runbook declares it and as Temporal
// runs it.
type scheduleView struct {
	Runbook  string      `json:"runbook"`
	Name     string      `json:"name"`
	Cron     string      `json:"cron"`
	Timezone string      `json:"timezone"`
	Overlap  string      `json:"overlap"`
	Paused   bool        `json:"paused"`
	Next     []time.Time `json:"next"`
	Recent   []string    `json:"recentRuns,omitempty"`
}

// schedules lists every schedule of the latest runbook versions, with
// their next fire times computed by the same cron parser the compiler uses.
func (a *API) listSchedules(c echo.Context) error {
	vs, err := a.Store.Runbooks()
	if err != nil {
		return err
	}
	type one struct {
		p *plan.Plan
		s plan.Schedule
	}
	var all []one
	for i := range vs {
		p, err := vs[i].PlanOf()
		if err != nil {
			return err
		}
		for _, s := range p.Schedules {
			all = append(all, one{p, s})
		}
	}
	// Each as Temporal has it now (paused, recent runs), a few described at
	// once; one Temporal cannot describe shows as declared.
	out := make([]scheduleView, len(all))
	sem := make(chan struct{}, scheduleDescribes)
	var wg sync.WaitGroup
	for i, o := range all {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[i] = a.scheduleView(c, o.p, o.s, true)
		}()
	}
	wg.Wait()
	return c.JSON(http.StatusOK, map[string]any{"schedules": out})
}

// scheduleDescribes is how many schedules the list describes at once.
const scheduleDescribes = 8

func (a *API) scheduleView(c echo.Context, p *plan.Plan, s plan.Schedule, live bool) scheduleView {
	v := scheduleView{Runbook: p.Name, Name: s.Name, Cron: s.Cron, Timezone: s.Timezone, Overlap: string(s.Overlap), Paused: s.Paused}
	v.Next, _ = runbooks.NextFires(s, time.Now(), 3)
	if !live {
		return v
	}
	d, err := a.Temporal.ScheduleClient().GetHandle(c.Request().Context(), ScheduleID(p.Name, s.Name)).Describe(c.Request().Context())
	if err != nil {
		return v
	}
	v.Paused = d.Schedule.State.Paused
	for _, r := range d.Info.RecentActions {
		if r.StartWorkflowResult == nil {
			continue
		}
		if id := a.scheduledRun(c.Request().Context(), r.StartWorkflowResult, p.Name, s.Name); id != "" {
			v.Recent = append(v.Recent, id) // the run's id, not its launcher's
		}
	}
	return v
}

// schedule finds a runbook's schedule or answers 404.
func (a *API) schedule(c echo.Context) (*plan.Plan, plan.Schedule, error) {
	v, err := a.Store.Runbook(c.Param("name"), 0)
	if err != nil {
		return nil, plan.Schedule{}, notFoundOr(err, "no runbook "+c.Param("name"))
	}
	p, err := v.PlanOf()
	if err != nil {
		return nil, plan.Schedule{}, err
	}
	for _, s := range p.Schedules {
		if s.Name == c.Param("schedule") {
			return p, s, nil
		}
	}
	return nil, plan.Schedule{}, problem(http.StatusNotFound, "runbook "+p.Name+" has no schedule "+c.Param("schedule"))
}

func (a *API) getSchedule(c echo.Context) error {
	p, s, err := a.schedule(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, a.scheduleView(c, p, s, true))
}

// scheduleAction pauses, unpauses or triggers a schedule now.
func (a *API) scheduleAction(action string) echo.HandlerFunc {
	return func(c echo.Context) error {
		p, s, err := a.schedule(c)
		if err != nil {
			return err
		}
		ctx := c.Request().Context()
		h := a.Temporal.ScheduleClient().GetHandle(ctx, ScheduleID(p.Name, s.Name))
		who := identity(c).User
		if action == "trigger" {
			return a.triggerSchedule(c, p, s)
		}
		switch action {
		case "pause":
			err = h.Pause(ctx, client.SchedulePauseOptions{Note: "paused by " + who})
		case "unpause":
			err = h.Unpause(ctx, client.ScheduleUnpauseOptions{Note: "unpaused by " + who})
		}
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return problem(http.StatusConflict, "the schedule is not registered in Temporal; register the runbook again")
		}
		if err != nil {
			return err
		}
		if err := a.Store.Append(store.AuditRecord{Actor: who, Action: "schedule." + action, Target: p.Name + "/" + s.Name, Runbook: p.Name,
			Detail: store.ScheduleDetail{Schedule: s.Name}}); err != nil {
			return err
		}
		return c.JSON(http.StatusAccepted, map[string]string{"schedule": s.Name, "action": action})
	}
}

// triggerSchedule starts a run of a schedule's params now, as the caller:
// the API starts it (not Temporal's schedule trigger, whose runs have the
// schedule as their starter), so the caller is its starter and may not
// approve it. The runbook's concurrency applies, not the schedule's overlap.
func (a *API) triggerSchedule(c echo.Context, p *plan.Plan, s plan.Schedule) error {
	v, err := a.Store.Runbook(p.Name, 0)
	if err != nil {
		return err
	}
	who := identity(c).User
	o := origin{trigger: plan.RunTriggerSchedule, triggeredBy: s.Name, detail: s.Name, startedBy: who}
	params, err := p.BindParams(s.Params)
	if err != nil {
		err = problem(http.StatusUnprocessableEntity, "the schedule's params: "+err.Error())
		a.refusedStart(c, p.Name, v.Version, o, err)
		return err
	}
	run, _, err := a.start(c, p, v.Version, params, o)
	if err != nil {
		return err
	}
	if err := a.Store.Append(store.AuditRecord{Actor: who, Action: store.ActionScheduleTrigger, Target: p.Name + "/" + s.Name, Run: run.ID, Runbook: p.Name,
		Detail: store.ScheduleDetail{Schedule: s.Name}}); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]string{"schedule": s.Name, "action": "trigger", "run": run.ID})
}
