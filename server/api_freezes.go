package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/runbooks"
	"github.com/opsrunbook/runbook/store"
)

// freezeView is a freeze as the API shows it: its compiled form, whether
// it holds now, its next windows, and the registered runbooks it holds
// back.
type freezeView struct {
	*plan.Freeze
	Author    string          `json:"author"`
	UpdatedAt time.Time       `json:"updatedAt"`
	Active    bool            `json:"active"`
	Until     *time.Time      `json:"until,omitempty"` // the end of the open window, merged with those that follow it
	Next      []plan.Interval `json:"next"`
	Holds     []string        `json:"holds"`
	Created   *bool           `json:"created,omitempty"`
	Changed   *bool           `json:"changed,omitempty"`
	Warnings  []any           `json:"warnings,omitempty"`
}

// NextWindows is how many windows a freeze's view lists.
const NextWindows = 3

func (a *API) freezeView(row *store.Freeze, books []*plan.Plan, now time.Time) (freezeView, error) {
	f, err := row.FreezeOf()
	if err != nil {
		return freezeView{}, err
	}
	v := freezeView{Freeze: f, Author: row.Author, UpdatedAt: row.UpdatedAt.UTC(), Next: []plan.Interval{}, Holds: []string{}}
	if iv, ok, err := f.ActiveAt(now); err == nil && ok {
		v.Active, v.Until = true, &iv.To
	}
	if ivs, err := f.Next(now, NextWindows); err == nil {
		v.Next = append(v.Next, ivs...)
	}
	for _, p := range books {
		if f.Selects(p.Name, p.Labels) {
			v.Holds = append(v.Holds, p.Name)
		}
	}
	return v, nil
}

func (a *API) latestPlans() ([]*plan.Plan, error) {
	vs, err := a.Store.Runbooks()
	if err != nil {
		return nil, err
	}
	out := make([]*plan.Plan, 0, len(vs))
	for i := range vs {
		if p, err := vs[i].PlanOf(); err == nil {
			out = append(out, p)
		}
	}
	return out, nil
}

// registerFreeze registers (or replaces) a freeze from its YAML, then
// gives every schedule its new blackouts.
func (a *API) registerFreeze(c echo.Context) error {
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return problem(http.StatusBadRequest, "reading the body: "+err.Error())
	}
	if k := runbooks.DocumentKind(body); k != runbooks.KindFreeze && k != "" { // "": not YAML, or no kind, which BuildFreeze reports
		return problem(http.StatusUnprocessableEntity, "the body is not a freeze: kind must be Freeze, got "+quoteOr(k, "none")+" (register runbooks with POST /api/v1/runbooks)")
	}
	f, diags := runbooks.BuildFreeze("freeze.yaml", body)
	if f == nil {
		details := make([]any, 0, len(diags))
		for _, d := range diags {
			details = append(details, d)
		}
		return problem(http.StatusUnprocessableEntity, "the freeze is invalid", details...)
	}
	user := identity(c).User
	created, changed, err := a.Store.PutFreeze(string(body), f, user)
	if err != nil {
		return err
	}
	if !changed {
		// The same source again: nothing to write, audit or refresh.
	} else if err := a.refreshSchedules(c.Request().Context()); err != nil {
		return problem(http.StatusServiceUnavailable, "the freeze is saved but the schedules do not have it yet (the next sync pass retries): "+err.Error())
	}
	row, err := a.Store.FreezeNamed(f.Name)
	if err != nil {
		return err
	}
	books, err := a.latestPlans()
	if err != nil {
		return err
	}
	v, err := a.freezeView(row, books, time.Now())
	if err != nil {
		return err
	}
	v.Created, v.Changed = &created, &changed
	for _, d := range diags.Warnings() {
		v.Warnings = append(v.Warnings, d)
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return c.JSON(status, v)
}

func quoteOr(s, none string) string {
	if s == "" {
		return none
	}
	return `"` + s + `"`
}

func (a *API) listFreezes(c echo.Context) error {
	rows, err := a.Store.Freezes()
	if err != nil {
		return err
	}
	books, err := a.latestPlans()
	if err != nil {
		return err
	}
	runbook := c.QueryParam("runbook")
	now := time.Now()
	out := []freezeView{}
	for i := range rows {
		v, err := a.freezeView(&rows[i], books, now)
		if err != nil {
			return err
		}
		if runbook != "" && !contains(v.Holds, runbook) {
			continue
		}
		out = append(out, v)
	}
	return c.JSON(http.StatusOK, map[string]any{"freezes": out})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (a *API) getFreeze(c echo.Context) error {
	row, err := a.Store.FreezeNamed(c.Param("name"))
	if err != nil {
		return notFoundOr(err, "no freeze "+c.Param("name"))
	}
	books, err := a.latestPlans()
	if err != nil {
		return err
	}
	v, err := a.freezeView(row, books, time.Now())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

func (a *API) deleteFreeze(c echo.Context) error {
	name := c.Param("name")
	if err := a.Store.DeleteFreeze(name, identity(c).User); err != nil {
		return notFoundOr(err, "no freeze "+name)
	}
	if err := a.refreshSchedules(c.Request().Context()); err != nil {
		return problem(http.StatusServiceUnavailable, "the freeze is lifted but the schedules still have it (the next sync pass retries): "+err.Error())
	}
	return c.JSON(http.StatusOK, map[string]any{"freeze": name, "deleted": true})
}

// refreshSchedules gives every schedule of the latest runbook versions the
// blackouts of the freezes registered now; the syncer does it daily too,
// so that the blackouts always reach BlackoutHorizon/2 ahead.
func (a *API) refreshSchedules(ctx context.Context) error {
	if a.Scheduler == nil {
		return nil
	}
	vs, err := a.Store.Runbooks()
	if err != nil {
		return err
	}
	settings, err := a.runSettings()
	if err != nil {
		return err
	}
	var errs []error
	for i := range vs {
		p, err := vs[i].PlanOf()
		if err != nil || len(p.Schedules) == 0 {
			continue
		}
		errs = append(errs, a.Scheduler.Refresh(ctx, p, vs[i].Version, settings))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	a.refreshed.Store(time.Now())
	return nil
}

// RefreshEvery is how often the syncer gives schedules fresh blackouts.
const RefreshEvery = 24 * time.Hour

// refreshIfDue refreshes the schedules when the last refresh (by this
// process) is older than RefreshEvery, or there was none.
func (a *API) refreshIfDue(ctx context.Context) {
	if last, ok := a.refreshed.Load().(time.Time); ok && time.Since(last) < RefreshEvery {
		return
	}
	_ = a.refreshSchedules(ctx) // the next pass tries again
}
