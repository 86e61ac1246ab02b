package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/opsrunbook/runbook/store"
)

// Bounds of what callers post to incidents.
const (
	// MaxNote bounds a note, in bytes.
	MaxNote = 4096
	// MaxIncidentReason bounds the reason of an ack, resolve or reopen.
	MaxIncidentReason = 1024
	// Incidents a page holds by default.
	DefaultIncidentsLimit = 50
)

// incidentView is an incident as the API shows it, with its times to
// acknowledge and to resolve.
type incidentView struct {
	store.Incident
	TTASeconds *float64 `json:"ttaSeconds,omitempty"`
	TTRSeconds *float64 `json:"ttrSeconds,omitempty"`
}

func viewIncident(inc *store.Incident) incidentView {
	v := incidentView{Incident: *inc}
	if d, ok := inc.TTA(); ok {
		s := d.Seconds()
		v.TTASeconds = &s
	}
	if d, ok := inc.TTR(); ok {
		s := d.Seconds()
		v.TTRSeconds = &s
	}
	return v
}

// incidentID reads :id: 404 for anything but an incident's number.
func (a *API) incidentOf(c echo.Context) (*store.Incident, error) {
	id, err := strconv.ParseUint(c.Param("id"), 10, 32)
	if err != nil || id == 0 {
		return nil, problem(http.StatusNotFound, "no incident "+c.Param("id"), "an incident's id is a number")
	}
	inc, err := a.Store.Incident(uint(id))
	if err != nil {
		return nil, notFoundOr(err, "no incident "+c.Param("id"))
	}
	return inc, nil
}

// incidentsQuery documents GET /api/v1/incidents's query parameters.
var incidentsQuery = []any{
	queryParam("status", "string", "incidents with this status: "+strings.Join(store.IncidentStatuses, ", ")),
	queryParam("service", "string", "incidents of this service"),
	queryParam("severity", "string", "incidents of this severity"),
	queryParam("since", "string", "incidents opened at or after this RFC 3339 time"),
	queryParam("until", "string", "incidents opened before this RFC 3339 time"),
	queryParam("limit", "integer", fmt.Sprintf("incidents per page, 1 to %d (default %d)", store.MaxIncidentPage, DefaultIncidentsLimit)),
	queryParam("cursor", "string", "the next of the previous page"),
}

// incidentStatsQuery documents GET /api/v1/incidents/stats's.
var incidentStatsQuery = []any{
	queryParam("service", "string", "only this service"),
	queryParam("since", "string", "incidents opened at or after this RFC 3339 time (default: 30 days ago)"),
	queryParam("until", "string", "incidents opened before this RFC 3339 time (default: now)"),
}

// incidentFilter reads a query: every bad value is one detail of a 400.
func incidentFilter(c echo.Context, params []any) (store.IncidentFilter, error) {
	q := c.QueryParams()
	f := store.IncidentFilter{Status: q.Get("status"), Service: q.Get("service"), Severity: q.Get("severity"), Limit: DefaultIncidentsLimit}
	bad := queryProblems(q, queryNames(params))
	if f.Status != "" && !store.ValidIncidentStatus(f.Status) {
		bad = append(bad, fmt.Sprintf("status: %q is not one of %s", f.Status, strings.Join(store.IncidentStatuses, ", ")))
	}
	for _, s := range []struct{ name, value, field string }{{"service", f.Service, "Service"}, {"severity", f.Severity, "Severity"}} {
		if n := store.Size(store.Incident{}, s.field); store.Length(s.value) > n {
			bad = append(bad, fmt.Sprintf("%s: at most %d characters", s.name, n))
		}
	}
	bad = append(bad, timeRange(q, &f.Since, &f.Until)...)
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > store.MaxIncidentPage {
			bad = append(bad, fmt.Sprintf("limit: %q is not a whole number from 1 to %d", s, store.MaxIncidentPage))
		}
		f.Limit = n
	}
	if s := q.Get("cursor"); s != "" {
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil || n == 0 {
			bad = append(bad, fmt.Sprintf("cursor: %q is not a page's next", s))
		}
		f.Before = uint(n)
	}
	if len(bad) > 0 {
		return f, problem(http.StatusBadRequest, "bad query", bad...)
	}
	return f, nil
}

// listIncidents answers incidents newest first, a page at a time.
func (a *API) listIncidents(c echo.Context) error {
	f, err := incidentFilter(c, incidentsQuery)
	if err != nil {
		return err
	}
	page, more, err := a.Store.Incidents(f)
	if err != nil {
		return err
	}
	out := struct {
		Incidents []incidentView `json:"incidents"`
		Next      string         `json:"next"`
	}{Incidents: make([]incidentView, 0, len(page))}
	for i := range page {
		out.Incidents = append(out.Incidents, viewIncident(&page[i]))
	}
	if more {
		out.Next = strconv.FormatUint(uint64(page[len(page)-1].ID), 10)
	}
	return c.JSON(http.StatusOK, out)
}

// incidentRunView is a run linked to an incident.
type incidentRunView struct {
	Run      string     `json:"run"`
	Runbook  string     `json:"runbook"`
	Status   string     `json:"status"`
	Trigger  string     `json:"trigger"`
	LinkedBy string     `json:"linkedBy"`
	LinkedAt time.Time  `json:"linkedAt"`
	EndedAt  *time.Time `json:"endedAt,omitempty"`
}

func (a *API) incidentRuns(id uint) ([]incidentRunView, map[string]*store.Run, error) {
	links, err := a.Store.IncidentRuns(id)
	if err != nil {
		return nil, nil, err
	}
	out := make([]incidentRunView, 0, len(links))
	runs := map[string]*store.Run{}
	for _, l := range links {
		v := incidentRunView{Run: l.RunID, LinkedBy: l.LinkedBy, LinkedAt: l.LinkedAt}
		if r, err := a.Store.Run(l.RunID); err == nil {
			v.Runbook, v.Status, v.Trigger, v.EndedAt = r.Runbook, r.Status, r.Trigger, r.EndedAt
			runs[r.ID] = r
		}
		out = append(out, v)
	}
	return out, runs, nil
}

// getIncident answers an incident with its runs.
func (a *API) getIncident(c echo.Context) error {
	inc, err := a.incidentOf(c)
	if err != nil {
		return err
	}
	runs, _, err := a.incidentRuns(inc.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, struct {
		incidentView
		Runs []incidentRunView `json:"runs"`
	}{viewIncident(inc), runs})
}

type openIncidentRequest struct {
	Title    string `json:"title"`
	Severity string `json:"severity"`
	Service  string `json:"service"`
	Key      string `json:"key"`
}

// createIncident opens an incident for an operator: 201, or 200 with the
// incident the same key already names (reopened when it was resolved).
func (a *API) createIncident(c echo.Context) error {
	var req openIncidentRequest
	user := identity(c).User
	refuse := func(err error) error {
		if reason, status, ok := refusal(err); ok {
			a.appendRefusal(c, store.AuditRecord{Actor: user, Action: store.ActionIncidentOpen, Target: "incident", Refused: reason,
				Detail: store.IncidentDetail{Source: store.SourceAPI, Code: status}})
		}
		return err
	}
	if err := decodeBody(c, &req, false); err != nil {
		return refuse(err)
	}
	req.Title = strings.TrimSpace(req.Title)
	var bad []any
	if req.Title == "" {
		bad = append(bad, "title: required")
	}
	for _, f := range []struct{ name, value, field string }{{"title", req.Title, "Title"}, {"severity", req.Severity, "Severity"},
		{"service", req.Service, "Service"}, {"key", req.Key, "Key"}} {
		if n := store.Size(store.Incident{}, f.field); store.Length(f.value) > n {
			bad = append(bad, fmt.Sprintf("%s: %d characters, at most %d", f.name, store.Length(f.value), n))
		}
	}
	if len(bad) > 0 {
		return refuse(problem(http.StatusUnprocessableEntity, "invalid incident", bad...))
	}
	if req.Key == "" {
		var b [12]byte
		_, _ = rand.Read(b[:])
		req.Key = "api:" + hex.EncodeToString(b[:])
	}
	inc, outcome, err := a.Store.ReportIncident(&store.Incident{Source: store.SourceAPI, Key: req.Key, Title: req.Title,
		Severity: req.Severity, Service: req.Service}, user, "reported by "+user+": "+req.Title)
	if err != nil {
		return err
	}
	countReport(inc, outcome)
	status := http.StatusOK
	if outcome == store.IncidentOpened {
		status = http.StatusCreated
	}
	return c.JSON(status, struct {
		incidentView
		Outcome string `json:"outcome"`
	}{viewIncident(inc), outcome})
}

type incidentReason struct {
	Reason string `json:"reason"`
}

// setIncidentStatus is ack (mitigating), resolve and reopen (open).
func (a *API) setIncidentStatus(status string) func(c echo.Context) error {
	action := map[string]string{store.IncidentMitigating: store.ActionIncidentAck, store.IncidentResolved: store.ActionIncidentResolve,
		store.IncidentOpen: store.ActionIncidentReopen}[status]
	return func(c echo.Context) error {
		inc, err := a.incidentOf(c)
		if err != nil {
			return err
		}
		user := identity(c).User
		var req incidentReason
		err = decodeBody(c, &req, true)
		if err == nil {
			err = capSize("reason", len(req.Reason), MaxIncidentReason)
		}
		var inc2 *store.Incident
		if err == nil {
			inc2, err = a.Store.SetIncidentStatus(inc.ID, status, user, strings.TrimSpace(req.Reason))
			err = incidentProblem(err)
		}
		if reason, code, ok := refusal(err); ok {
			a.appendRefusal(c, store.AuditRecord{Actor: user, Action: action, Target: store.IncidentTarget(inc.ID), Refused: reason,
				Detail: store.IncidentDetail{Incident: inc.ID, Status: status, From: inc.Status, Code: code}})
		}
		if err != nil {
			return err
		}
		observeChange(inc2, status)
		return c.JSON(http.StatusOK, viewIncident(inc2))
	}
}

// incidentProblem answers the store's refusals: 409.
func incidentProblem(err error) error {
	var se *store.IncidentStateError
	switch {
	case errors.As(err, &se):
		return problem(http.StatusConflict, se.Error(), map[string]string{"status": se.From})
	case errors.Is(err, store.ErrIncidentFull):
		return problem(http.StatusConflict, err.Error(), fmt.Sprintf("an incident keeps at most %d events and %d runs", store.MaxIncidentEvents, store.MaxIncidentRuns))
	}
	return err
}

type noteRequest struct {
	Text string `json:"text"`
}

// addNote adds a responder's note to an incident's timeline.
func (a *API) addNote(c echo.Context) error {
	inc, err := a.incidentOf(c)
	if err != nil {
		return err
	}
	user := identity(c).User
	var req noteRequest
	err = decodeBody(c, &req, false)
	if err == nil && strings.TrimSpace(req.Text) == "" {
		err = problem(http.StatusUnprocessableEntity, "text: required", "a note's text is 1 to "+strconv.Itoa(MaxNote)+" bytes")
	}
	if err == nil {
		err = capSize("text", len(req.Text), MaxNote)
	}
	var e *store.IncidentEvent
	if err == nil {
		e, err = a.Store.AddIncidentNote(inc.ID, user, req.Text)
		err = incidentProblem(err)
	}
	if reason, code, ok := refusal(err); ok {
		a.appendRefusal(c, store.AuditRecord{Actor: user, Action: store.ActionIncidentNote, Target: store.IncidentTarget(inc.ID), Refused: reason,
			Detail: store.IncidentDetail{Incident: inc.ID, Size: len(req.Text), Code: code}})
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, e)
}

// startIncident checks the incident a start names: 422 when there is none.
func (a *API) startIncident(id uint) (uint, error) {
	if _, err := a.Store.Incident(id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return 0, problem(http.StatusUnprocessableEntity, fmt.Sprintf("incident: no incident %d", id))
		}
		return 0, err
	}
	return id, nil
}

// linkIncident links a run a start answered with to the incident it was
// started for. The run has started: a link that fails is logged, never
// the start's answer.
func (a *API) linkIncident(c echo.Context, o origin, run string) {
	if o.incident == 0 {
		return
	}
	inc, _, err := a.Store.LinkRun(o.incident, run, o.startedBy)
	if err != nil {
		c.Logger().Errorf("link run %s to incident %d: %v", run, o.incident, err)
		return
	}
	observeChange(inc, store.IncidentMitigating)
}
