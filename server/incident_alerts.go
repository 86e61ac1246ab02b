package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/workflows"
)

// IncidentLabels maps an Alertmanager group to an incident's title,
// severity and service: each is the first of its sources that is set,
// a source being labels.NAME or annotations.NAME, read from the group's
// common labels and annotations, then from its first alert's.
type IncidentLabels struct {
	Title, Severity, Service []string
}

// DefaultIncidentLabels is the mapping without RUNBOOK_INCIDENT_LABELS.
var DefaultIncidentLabels = IncidentLabels{
	Title:    []string{"annotations.summary", "labels.alertname"},
	Severity: []string{"labels.severity"},
	Service:  []string{"labels.service", "labels.job"},
}

// ParseIncidentLabels reads a mapping such as
// "title=annotations.summary|labels.alertname,severity=labels.severity,service=labels.service|labels.job";
// a field it does not name keeps its default.
func ParseIncidentLabels(s string) (IncidentLabels, error) {
	m := DefaultIncidentLabels
	if strings.TrimSpace(s) == "" {
		return m, nil
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		field, sources, ok := strings.Cut(strings.TrimSpace(part), "=")
		var dst *[]string
		switch field {
		case "title":
			dst = &m.Title
		case "severity":
			dst = &m.Severity
		case "service":
			dst = &m.Service
		}
		if !ok || dst == nil {
			return m, fmt.Errorf("incident labels: %q is not FIELD=SOURCE|SOURCE (fields: title, severity, service)", part)
		}
		if seen[field] {
			return m, fmt.Errorf("incident labels: %s is given twice", field)
		}
		seen[field] = true
		var list []string
		for _, src := range strings.Split(sources, "|") {
			src = strings.TrimSpace(src)
			kind, name, _ := strings.Cut(src, ".")
			if (kind != "labels" && kind != "annotations") || name == "" {
				return m, fmt.Errorf("incident labels: %s: %q is not labels.NAME or annotations.NAME", field, src)
			}
			list = append(list, src)
		}
		*dst = list
	}
	return m, nil
}

// pick is the first source of sources the group sets.
func (p alertmanagerPayload) pick(sources []string) string {
	for _, src := range sources {
		kind, name, _ := strings.Cut(src, ".")
		common, first := p.CommonLabels, map[string]string{}
		if kind == "annotations" {
			common = p.CommonAnnotations
		}
		if len(p.Alerts) > 0 {
			first = p.Alerts[0].Labels
			if kind == "annotations" {
				first = p.Alerts[0].Annotations
			}
		}
		if v := strings.TrimSpace(common[name]); v != "" {
			return v
		}
		if v := strings.TrimSpace(first[name]); v != "" {
			return v
		}
	}
	return ""
}

// incidentKey is the group's key: Alertmanager's groupKey, else its
// alerts' fingerprints (sorted); "" when it has neither.
func (p alertmanagerPayload) incidentKey() string {
	if p.GroupKey != "" {
		return p.GroupKey
	}
	var fps []string
	for _, a := range p.Alerts {
		if a.Fingerprint != "" && !slices.Contains(fps, a.Fingerprint) {
			fps = append(fps, a.Fingerprint)
		}
	}
	if len(fps) == 0 {
		return ""
	}
	slices.Sort(fps)
	return "fingerprints:" + strings.Join(fps, ",")
}

// summary is what an alert event records: each alert's status and name.
func (p alertmanagerPayload) summary(title string) string {
	firing, resolved := 0, 0
	for _, a := range p.Alerts {
		if a.Status == "resolved" {
			resolved++
		} else {
			firing++
		}
	}
	return fmt.Sprintf("%s: %s (%d firing, %d resolved)", p.Status, title, firing, resolved)
}

// hookIncident is what a hook did to an incident.
type hookIncident struct {
	ID      uint   `json:"id"`
	Status  string `json:"status"`
	Outcome string `json:"outcome"` // opened, reopened, updated, resolved
}

// alertIncident opens, updates, reopens or resolves the incident of an
// Alertmanager group, as the hook's caller. A resolved group no incident
// has is nothing (nil).
func (a *API) alertIncident(c echo.Context, body alertmanagerPayload) (*store.Incident, *hookIncident, error) {
	key := body.incidentKey()
	if key == "" {
		return nil, nil, nil
	}
	m := a.IncidentLabels
	if m.Title == nil && m.Severity == nil && m.Service == nil {
		m = DefaultIncidentLabels
	}
	title := body.pick(m.Title)
	if title == "" {
		title = "Alertmanager alert group"
	}
	user := identity(c).User
	if body.Status == "resolved" {
		inc, changed, err := a.Store.ResolveAlert(store.SourceAlertmanager, key, user, body.summary(title))
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil, nil
		}
		if err != nil {
			return nil, nil, err
		}
		outcome := store.IncidentUpdated
		if changed {
			outcome = "resolved"
			observeChange(inc, store.IncidentResolved)
		}
		return inc, &hookIncident{ID: inc.ID, Status: inc.Status, Outcome: outcome}, nil
	}
	inc, outcome, err := a.Store.ReportIncident(&store.Incident{Source: store.SourceAlertmanager, Key: key, Title: title,
		Severity: body.pick(m.Severity), Service: body.pick(m.Service)}, user, body.summary(title))
	if err != nil {
		return nil, nil, err
	}
	countReport(inc, outcome)
	return inc, &hookIncident{ID: inc.ID, Status: inc.Status, Outcome: outcome}, nil
}

// webhookIncident opens, updates, reopens or resolves the incident a
// matching delivery reports, when its trigger has incident: its key is the
// webhook's name and the key expression's value; the actor system:webhook.
// nil without incident, or for a resolution of no incident.
func (a *API) webhookIncident(c echo.Context, tp triggeredPlan, d *Delivery) (*hookIncident, error) {
	t := WebhookTrigger(tp.plan, d.Hook)
	if t == nil || t.Incident == nil {
		return nil, nil
	}
	var payload any
	if err := json.Unmarshal(d.Body, &payload); err != nil {
		return nil, fmt.Errorf("webhook %s: the body is not JSON: %w", d.Hook, err)
	}
	vars := plan.Vars{plan.VarBody: payload, plan.VarHeaders: d.Headers}
	text := func(field string, e *plan.Expr) (string, error) {
		if e == nil {
			return "", nil
		}
		v, err := tp.ev.Eval(e, vars)
		if err != nil {
			return "", fmt.Errorf("trigger of %s: incident.%s: %w", tp.plan.Name, field, err)
		}
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("trigger of %s: incident.%s is %T, not a string", tp.plan.Name, field, v)
		}
		return strings.TrimSpace(s), nil
	}
	var f [4]string
	for i, e := range []*plan.Expr{t.Incident.Key, t.Incident.Title, t.Incident.Severity, t.Incident.Service} {
		var err error
		if f[i], err = text([]string{"key", "title", "severity", "service"}[i], e); err != nil {
			return nil, err
		}
	}
	if f[0] == "" {
		return nil, fmt.Errorf("trigger of %s: incident.key is empty", tp.plan.Name)
	}
	resolved := false
	if t.Incident.Resolved != nil {
		var err error
		if resolved, err = tp.ev.EvalBool(t.Incident.Resolved, vars); err != nil {
			return nil, fmt.Errorf("trigger of %s: incident.resolved: %w", tp.plan.Name, err)
		}
	}
	key, title := d.Hook+":"+f[0], f[1]
	if title == "" {
		title = d.Hook
	}
	summary := fmt.Sprintf("%s delivery %s: %s", d.Hook, d.ID, title)
	if resolved {
		inc, changed, err := a.Store.ResolveAlert(store.SourceWebhook, key, SystemWebhook, "resolved: "+summary)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		outcome := store.IncidentUpdated
		if changed {
			outcome = "resolved"
			observeChange(inc, store.IncidentResolved)
		}
		return &hookIncident{ID: inc.ID, Status: inc.Status, Outcome: outcome}, nil
	}
	inc, outcome, err := a.Store.ReportIncident(&store.Incident{Source: store.SourceWebhook, Key: key, Title: title,
		Severity: f[2], Service: f[3]}, SystemWebhook, "firing: "+summary)
	if err != nil {
		return nil, err
	}
	countReport(inc, outcome)
	return &hookIncident{ID: inc.ID, Status: inc.Status, Outcome: outcome}, nil
}

// afterRuns is the incident as the runs linked to it left it.
func (a *API) afterRuns(h *hookIncident) *hookIncident {
	if inc, err := a.Store.Incident(h.ID); err == nil {
		h.Status = inc.Status
	}
	return h
}

// cancelOnResolved cancels the runs linked to a resolved incident that
// still run, of the runbooks whose alertmanager trigger says onResolved:
// cancel (their latest versions, as the hook matched them). Each cancel is
// audited as run.cancel by the caller; one that fails is logged and
// audited as refused, and the others still go.
func (a *API) cancelOnResolved(c echo.Context, inc *store.Incident, plans []triggeredPlan) []string {
	cancelling := map[string]bool{}
	for _, tp := range plans {
		if slices.ContainsFunc(tp.plan.Triggers, func(t plan.Trigger) bool {
			return t.Kind == plan.TriggerAlertmanager && t.OnResolved == plan.OnResolvedCancel
		}) {
			cancelling[tp.plan.Name] = true
		}
	}
	if len(cancelling) == 0 {
		return nil
	}
	links, err := a.Store.IncidentRuns(inc.ID)
	if err != nil {
		c.Logger().Errorf("incident %d: runs to cancel: %v", inc.ID, err)
		return nil
	}
	cancelled := []string{}
	reason := fmt.Sprintf("incident %d resolved", inc.ID)
	for _, l := range links {
		r, err := a.Store.Run(l.RunID)
		if err != nil || !cancelling[r.Runbook] || workflows.Ended(r.Status) {
			continue
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request().Context()), VoteWait)
		entry := store.AuditRecord{Actor: identity(c).User, Action: store.ActionRunCancel, Target: r.ID, Run: r.ID, Runbook: r.Runbook,
			Detail: store.CancelDetail{Reason: reason}}
		err = a.cancellable(ctx, r)
		if err == nil {
			if err = a.Store.Append(entry); err == nil {
				err = a.sendCancel(ctx, r)
			}
		}
		cancel()
		if err != nil {
			if msg, status, ok := refusal(err); ok {
				entry.Refused, entry.Detail = msg, store.CancelDetail{Reason: reason, Status: status}
				a.appendRefusal(c, entry)
			} else {
				c.Logger().Errorf("incident %d: cancel %s: %v", inc.ID, r.ID, err)
			}
			continue
		}
		cancelled = append(cancelled, r.ID)
	}
	return cancelled
}
