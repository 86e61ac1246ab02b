package server

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/opsrunbook/runbook/plan"

	"github.com/labstack/echo/v4"

	"github.com/opsrunbook/runbook/store"
)

// alertmanagerPayload is Alertmanager's webhook body.
type alertmanagerPayload struct {
	Status            string            `json:"status"`
	Alerts            []Alert           `json:"alerts"`
	GroupKey          string            `json:"groupKey"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
}

// hookResult says what one alert or webhook started.
type hookResult struct {
	Runbook     string `json:"runbook"`
	Run         string `json:"run,omitempty"`
	Outcome     string `json:"outcome"` // started, attached (already running), duplicate (seen before)
	Fingerprint string `json:"fingerprint,omitempty"`
	Error       string `json:"error,omitempty"`
	// Incident is the incident a webhook trigger's delivery reported.
	Incident *hookIncident `json:"incident,omitempty"`
}

// alertmanager matches each alert, firing or resolved, against every
// runbook's alertmanager triggers. An alert already seen (same fingerprint,
// startsAt and status) never starts a second run.
func (a *API) alertmanager(c echo.Context) error {
	var body alertmanagerPayload
	if err := json.NewDecoder(c.Request().Body).Decode(&body); err != nil {
		return problem(http.StatusBadRequest, "not an Alertmanager webhook payload: "+err.Error())
	}
	if err := checkAlerts(body.Alerts); err != nil {
		return err
	}
	plans, err := a.triggered(plan.TriggerAlertmanager)
	if err == nil {
		err = withEvaluators(plans)
	}
	if err != nil {
		return err
	}
	// The group's incident first, so the runs its alerts start are its.
	inc, incident, err := a.alertIncident(c, body)
	if err != nil {
		return err
	}
	var incidentID uint
	var cancelled []string
	if inc != nil {
		incidentID = inc.ID
		if incident.Outcome == "resolved" {
			// Before the resolved alerts start runs of their own.
			cancelled = a.cancelOnResolved(c, inc, plans)
		}
	}
	results := []hookResult{}
	for _, alert := range body.Alerts {
		for _, tp := range plans {
			m, err := MatchAlert(tp.plan, tp.ev, alert)
			if err != nil {
				a.refusedMatch(c, tp, origin{trigger: plan.RunTriggerAlert, triggeredBy: alert.Fingerprint, detail: alert.Labels["alertname"], startedBy: identity(c).User}, err)
				results = append(results, hookResult{Runbook: tp.plan.Name, Fingerprint: alert.Fingerprint, Error: err.Error()})
				continue
			}
			if m == nil {
				continue
			}
			legacy := fmt.Sprintf("alert:%s:%s:%s", tp.plan.Name, alert.Fingerprint, alert.StartsAt.UTC().Format("2006-01-02T15:04:05.000Z"))
			if alert.Status != "firing" {
				// A resolution is not a duplicate of the firing it ends.
				legacy += ":" + alert.Status
			}
			if r, err := a.Store.RunByKey(legacy); err == nil {
				// Seen before alert keys were scoped to the caller.
				results = append(results, hookResult{Runbook: tp.plan.Name, Run: r.ID, Outcome: "duplicate", Fingerprint: alert.Fingerprint})
				continue
			}
			// The run's starter is the caller (Alertmanager's token), never
			// the fingerprint the body claims; its key is the caller's too,
			// so no other token can claim an alert before Alertmanager posts it.
			results = append(results, a.startFromHook(c, tp, m, origin{trigger: plan.RunTriggerAlert, triggeredBy: alert.Fingerprint,
				detail: alert.Labels["alertname"], startedBy: identity(c).User, key: alertKey(identity(c).User, legacy), incident: incidentID}))
		}
	}
	answer := map[string]any{"runs": results}
	if incident != nil {
		answer["incident"] = a.afterRuns(incident)
		if cancelled != nil {
			answer["cancelled"] = cancelled
		}
	}
	return c.JSON(http.StatusOK, answer)
}

// webhook verifies a signed JSON webhook and starts the runbooks whose
// trigger of that name matches it. Every runbook with the hook must
// verify the delivery before any run starts; the delivery is then claimed
// in the database, so a replay is refused on every API replica. The route
// takes no token, so refusing is cheap: the body must arrive within the
// read timeout, and the signature is checked (one small query, plans
// decoded once per version, an HMAC) before any JSON of the request is
// read or any expression prepared.
func (a *API) webhook(c echo.Context) error {
	timeout := a.WebhookReadTimeout
	if timeout <= 0 {
		timeout = DefaultWebhookReadTimeout
	}
	// http.ErrNotSupported (a test's recorder): the server's own timeouts hold.
	_ = http.NewResponseController(c.Response()).SetReadDeadline(time.Now().Add(timeout))
	name := c.Param("name")
	plans, err := a.triggered(plan.TriggerWebhook)
	if err != nil {
		return err
	}
	var targets []triggeredPlan
	for _, tp := range plans {
		if hasWebhook(tp.plan, name) {
			targets = append(targets, tp)
		}
	}
	if len(targets) == 0 {
		return problem(http.StatusNotFound, "no runbook has a webhook trigger named "+name)
	}
	body, err := io.ReadAll(c.Request().Body)
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return problem(http.StatusRequestTimeout, fmt.Sprintf("the body did not arrive within %s", timeout), "send the whole request at once")
	case err != nil:
		return problem(http.StatusBadRequest, "reading the body: "+err.Error())
	}
	now := webhookNow()
	var d *Delivery
	for _, tp := range targets {
		if d, err = VerifyWebhook(WebhookTrigger(tp.plan, name), body, c.Request().Header, a.Secrets, now); err != nil {
			return deliveryProblem(err)
		}
	}
	if err := withEvaluators(targets); err != nil {
		return err
	}
	claim := &store.Delivery{Hook: name, Digest: d.Digest, DeliveryID: d.ID, SignedAt: d.SignedAt,
		ExpiresAt: d.SignedAt.Add(2 * SignatureWindow)}
	switch err := a.Store.ClaimDelivery(claim); {
	case errors.Is(err, store.ErrReplay):
		return problem(http.StatusConflict, fmt.Sprintf("webhook %s: delivery %s signed at %s was received before: a replay is refused", name, d.ID, d.SignedAt.Format(time.RFC3339)),
			"a sender that retries signs again with a new t; the same id= starts no second run")
	case err != nil:
		return err
	}
	results := []hookResult{}
	started := false
	for _, tp := range targets {
		m, err := MatchWebhook(tp.plan, tp.ev, d)
		if err != nil {
			a.refusedMatch(c, tp, origin{trigger: plan.RunTriggerWebhook, triggeredBy: name, detail: name + " delivery " + d.ID, startedBy: SystemWebhook}, err)
			results = append(results, hookResult{Runbook: tp.plan.Name, Error: err.Error()})
			continue
		}
		if m == nil {
			continue
		}
		inc, err := a.webhookIncident(c, tp, d)
		if err != nil {
			results = append(results, hookResult{Runbook: tp.plan.Name, Error: err.Error()})
			continue
		}
		var incidentID uint
		if inc != nil {
			incidentID = inc.ID
		}
		// The signed delivery id, never an unsigned header, names the run.
		key := "webhook:" + tp.plan.Name + ":" + d.ID
		res := a.startFromHook(c, tp, m, origin{trigger: plan.RunTriggerWebhook, triggeredBy: name, detail: name + " delivery " + d.ID,
			startedBy: SystemWebhook, key: key, incident: incidentID})
		if inc != nil {
			res.Incident = a.afterRuns(inc)
		}
		started = started || res.Run != ""
		results = append(results, res)
	}
	if !started && len(results) > 0 {
		// Every start failed: forget the delivery so the same request
		// may be sent again.
		if err := a.Store.ReleaseDelivery(name, d.Digest); err != nil {
			return err
		}
	}
	return c.JSON(http.StatusOK, map[string]any{"runs": results})
}

// webhookNow is the clock deliveries are checked against.
var webhookNow = timeNow

// deliveryProblem answers a refused delivery: 401 for its signature, 503
// when the server has no usable key.
func deliveryProblem(err error) error {
	var de *deliveryError
	if !errors.As(err, &de) {
		return err
	}
	status := http.StatusUnauthorized
	if errors.Is(err, ErrNoKey) {
		status = http.StatusServiceUnavailable
	}
	return problem(status, de.message, de.hint)
}

func hasWebhook(p *plan.Plan, name string) bool {
	for _, t := range p.Triggers {
		if t.Kind == plan.TriggerWebhook && t.Name == name {
			return true
		}
	}
	return false
}

type triggeredPlan struct {
	plan    *plan.Plan
	version int
	ev      *plan.Evaluator // set by withEvaluators
}

// triggered returns the latest versions that have a trigger of kind, by
// runbook name, their plans decoded once per version.
func (a *API) triggered(kind plan.TriggerKind) ([]triggeredPlan, error) {
	versions, err := a.Store.LatestVersions()
	if err != nil {
		return nil, err
	}
	plans, err := a.plans.latest(versions, func(name string, version int) (*plan.Plan, error) {
		v, err := a.Store.Runbook(name, version)
		if err != nil {
			return nil, err
		}
		return v.PlanOf()
	})
	if err != nil {
		return nil, err
	}
	var out []triggeredPlan
	for _, name := range plan.SortedKeys(plans) {
		cp := plans[name]
		if slices.ContainsFunc(cp.plan.Triggers, func(t plan.Trigger) bool { return t.Kind == kind }) {
			out = append(out, triggeredPlan{plan: cp.plan, version: cp.version})
		}
	}
	return out, nil
}

// withEvaluators prepares each plan's expressions.
func withEvaluators(tps []triggeredPlan) error {
	for i := range tps {
		ev, err := plan.NewEvaluator(tps[i].plan)
		if err != nil {
			return err
		}
		tps[i].ev = ev
	}
	return nil
}

// Starters of runs no person started.
const (
	SystemSchedule = "system:schedule"
	SystemWebhook  = "system:webhook"
)

func (a *API) startFromHook(c echo.Context, tp triggeredPlan, m *Match, o origin) hookResult {
	res := hookResult{Runbook: tp.plan.Name}
	if o.trigger == plan.RunTriggerAlert {
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

// refusedMatch audits a trigger that matched but whose params the runbook
// refuses, as a refused start (a match that cannot be evaluated is no
// start and is only answered).
func (a *API) refusedMatch(c echo.Context, tp triggeredPlan, o origin, err error) {
	var pe *plan.ParamError
	if errors.As(err, &pe) {
		a.refusedStart(c, tp.plan.Name, tp.version, o, problem(http.StatusUnprocessableEntity, err.Error()))
	}
}

// alertKey scopes an alert's dedup key to the token that posted it.
func alertKey(caller, key string) string {
	sum := sha256.Sum256([]byte(caller + "\x00" + key))
	return "alert:" + hex.EncodeToString(sum[:])
}
