package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/opsrunbook/runbook/runbooks"
)

// alertmanagerPayload is Alertmanager's webhook body.
type alertmanagerPayload struct {
	Status string  `json:"status"`
	Alerts []Alert `json:"alerts"`
}

// hookResult says what one alert or webhook started.
type hookResult struct {
	Runbook     string `json:"runbook"`
	Run         string `json:"run,omitempty"`
	Outcome     string `json:"outcome"` // started, attached (already running), duplicate (seen before)
	Fingerprint string `json:"fingerprint,omitempty"`
	Error       string `json:"error,omitempty"`
}

// alertmanager matches each firing alert against every runbook's
// alertmanager triggers. An alert already seen (same fingerprint and
// startsAt) never starts a second run.
func (a *API) alertmanager(c echo.Context) error {
	var body alertmanagerPayload
	if err := json.NewDecoder(c.Request().Body).Decode(&body); err != nil {
		return problem(http.StatusBadRequest, "not an Alertmanager webhook payload: "+err.Error())
	}
	plans, err := a.triggered("alertmanager")
	if err != nil {
		return err
	}
	results := []hookResult{}
	for _, alert := range body.Alerts {
		if alert.Status != "firing" {
			continue
		}
		for _, tp := range plans {
			m, err := MatchAlert(tp.plan, tp.ev, alert)
			if err != nil {
				results = append(results, hookResult{Runbook: tp.plan.Name, Fingerprint: alert.Fingerprint, Error: err.Error()})
				continue
			}
			if m == nil {
				continue
			}
			key := fmt.Sprintf("alert:%s:%s:%s", tp.plan.Name, alert.Fingerprint, alert.StartsAt.UTC().Format("2006-01-02T15:04:05.000Z"))
			// The run's starter is the caller (Alertmanager's token), never
			// the fingerprint the body claims.
			results = append(results, a.startFromHook(c, tp, m, origin{trigger: "alert", triggeredBy: alert.Fingerprint,
				detail: alert.Labels["alertname"], startedBy: identity(c).User, key: key}))
		}
	}
	return c.JSON(http.StatusOK, map[string]any{"runs": results})
}

// webhook verifies a signed JSON webhook and starts the runbooks whose
// trigger of that name matches it.
func (a *API) webhook(c echo.Context) error {
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return problem(http.StatusBadRequest, "reading the body: "+err.Error())
	}
	plans, err := a.triggered("webhook")
	if err != nil {
		return err
	}
	name := c.Param("name")
	results := []hookResult{}
	known := false
	for _, tp := range plans {
		m, err := MatchWebhook(tp.plan, tp.ev, name, body, c.Request().Header, a.Secrets)
		switch {
		case errors.Is(err, ErrBadSignature):
			return problem(http.StatusUnauthorized, err.Error())
		case err != nil:
			results = append(results, hookResult{Runbook: tp.plan.Name, Error: err.Error()})
			known = true
			continue
		case m == nil:
			known = known || hasWebhook(tp.plan, name)
			continue
		}
		known = true
		key := c.Request().Header.Get("Idempotency-Key")
		if key != "" {
			key = "webhook:" + tp.plan.Name + ":" + key
		}
		results = append(results, a.startFromHook(c, tp, m, origin{trigger: "webhook", triggeredBy: name, detail: name,
			startedBy: SystemWebhook, key: key}))
	}
	if !known {
		return problem(http.StatusNotFound, "no runbook has a webhook trigger named "+name)
	}
	return c.JSON(http.StatusOK, map[string]any{"runs": results})
}

func hasWebhook(p *runbooks.Plan, name string) bool {
	for _, t := range p.Triggers {
		if t.Kind == "webhook" && t.Name == name {
			return true
		}
	}
	return false
}

type triggeredPlan struct {
	plan    *runbooks.Plan
	version int
	ev      *runbooks.Evaluator
}

// triggered returns the latest versions that have a trigger of kind.
func (a *API) triggered(kind string) ([]triggeredPlan, error) {
	vs, err := a.Store.Runbooks()
	if err != nil {
		return nil, err
	}
	var out []triggeredPlan
	for i := range vs {
		p, err := vs[i].PlanOf()
		if err != nil {
			return nil, err
		}
		for _, t := range p.Triggers {
			if t.Kind == kind {
				ev, err := runbooks.NewEvaluator(p)
				if err != nil {
					return nil, err
				}
				out = append(out, triggeredPlan{plan: p, version: vs[i].Version, ev: ev})
				break
			}
		}
	}
	return out, nil
}

// Starters of runs no person started.
const (
	SystemSchedule = "system:schedule"
	SystemWebhook  = "system:webhook"
)

func (a *API) startFromHook(c echo.Context, tp triggeredPlan, m *Match, o origin) hookResult {
	res := hookResult{Runbook: tp.plan.Name}
	if o.trigger == "alert" {
		res.Fingerprint = o.triggeredBy
	}
	run, status, err := a.start(c, tp.plan, tp.version, m.Params, o)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	res.Run, res.Outcome = run.ID, "started"
	if status == http.StatusOK {
		res.Outcome = "attached"
		if run.IdempotencyKey != nil && *run.IdempotencyKey == o.key {
			res.Outcome = "duplicate"
		}
	}
	return res
}
