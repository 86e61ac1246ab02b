package web

import (
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// incidentStatuses are the incident list's status filter values.
var incidentStatuses = []string{"open", "mitigating", "resolved"}

// incidentView is an incident as the API answers it.
type incidentView struct {
	ID         uint       `json:"id"`
	Key        string     `json:"key"`
	Source     string     `json:"source"`
	Title      string     `json:"title"`
	Severity   string     `json:"severity"`
	Service    string     `json:"service"`
	Status     string     `json:"status"`
	OpenedBy   string     `json:"openedBy"`
	OpenedAt   time.Time  `json:"openedAt"`
	AckedAt    *time.Time `json:"ackedAt"`
	AckedBy    string     `json:"ackedBy"`
	ResolvedAt *time.Time `json:"resolvedAt"`
	ResolvedBy string     `json:"resolvedBy"`
	Reopens    int        `json:"reopens"`
	TTA        *float64   `json:"ttaSeconds"`
	TTR        *float64   `json:"ttrSeconds"`
}

// TTAText and TTRText are the times to acknowledge and resolve, rounded.
func (i incidentView) TTAText() string { return secondsText(i.TTA) }
func (i incidentView) TTRText() string { return secondsText(i.TTR) }

func secondsText(s *float64) string {
	if s == nil {
		return "—"
	}
	return roundDuration(time.Duration(*s * float64(time.Second)))
}

type incidentList struct {
	Incidents []incidentView `json:"incidents"`
	Next      string         `json:"next"`
}

type incidentTimeline struct {
	Incident incidentView `json:"incident"`
	Runs     []struct {
		Run      string    `json:"run"`
		Runbook  string    `json:"runbook"`
		Status   string    `json:"status"`
		LinkedBy string    `json:"linkedBy"`
		LinkedAt time.Time `json:"linkedAt"`
	} `json:"runs"`
	Entries []struct {
		At     time.Time `json:"at"`
		Kind   string    `json:"kind"`
		Actor  string    `json:"actor"`
		Status string    `json:"status"`
		Text   string    `json:"text"`
		Run    string    `json:"run"`
		Step   string    `json:"step"`
		Item   *int      `json:"item"`
	} `json:"entries"`
	EntriesOmitted int `json:"entriesOmitted"`
}

func (c *Console) incidentsPage(w http.ResponseWriter, r *http.Request, u *user) {
	q := url.Values{}
	for _, k := range []string{"status", "service", "cursor"} {
		if v := r.URL.Query().Get(k); v != "" {
			q.Set(k, v)
		}
	}
	var list incidentList
	err := c.call(r, u, "GET", "/api/v1/incidents?"+q.Encode(), nil, &list)
	data := map[string]any{"Status": q.Get("status"), "Service": q.Get("service"), "Statuses": incidentStatuses, "Incidents": list.Incidents}
	status := http.StatusOK
	if err != nil {
		p, ok := err.(*apiProblem)
		if !ok {
			p = &apiProblem{Status: http.StatusInternalServerError, Message: err.Error()}
		}
		data["Error"], status = p, p.Status
	}
	if list.Next != "" {
		q.Set("cursor", list.Next)
		data["Next"] = "/incidents?" + q.Encode()
	}
	c.render(w, r, u, status, "incidents", data)
}

func (c *Console) incidentPage(w http.ResponseWriter, r *http.Request, u *user) {
	id := r.PathValue("id")
	var tl incidentTimeline
	if err := c.call(r, u, "GET", apiPath("incidents", id, "timeline"), nil, &tl); err != nil {
		c.fail(w, r, u, 0, "incident "+id, err)
		return
	}
	c.render(w, r, u, http.StatusOK, "incident", map[string]any{"Incident": tl.Incident, "Runs": tl.Runs, "Entries": tl.Entries,
		"Omitted": tl.EntriesOmitted, "Done": r.URL.Query().Get("done")})
}

// incidentMarkdown is the API's Markdown export of the timeline, as a
// download (the browser never renders it as a page).
func (c *Console) incidentMarkdown(w http.ResponseWriter, r *http.Request, u *user) {
	id := r.PathValue("id")
	if n, err := strconv.ParseUint(id, 10, 32); err != nil || n == 0 {
		c.fail(w, r, u, http.StatusNotFound, "no incident "+id, nil)
		return
	}
	req, err := apiRequest(r, u, "GET", apiPath("incidents", id, "timeline")+"?format=markdown", nil)
	if err != nil {
		c.fail(w, r, u, http.StatusInternalServerError, "the timeline of incident "+id, err)
		return
	}
	rec := &recorder{header: http.Header{}}
	c.opts.API.ServeHTTP(rec, req)
	if rec.status >= 400 {
		var tl incidentTimeline
		c.fail(w, r, u, 0, "the timeline of incident "+id, c.call(r, u, "GET", apiPath("incidents", id, "timeline"), nil, &tl))
		return
	}
	w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="incident-`+id+`.md"`)
	_, _ = w.Write(rec.body.Bytes())
}

func (c *Console) incidentNote(w http.ResponseWriter, r *http.Request, u *user) {
	id := r.PathValue("id")
	c.act(w, r, u, "note", apiPath("incidents", id, "notes"), map[string]any{"text": r.PostFormValue("text")},
		func(map[string]any) string { return "/incidents/" + url.PathEscape(id) })
}

// incidentAction is ack, resolve or reopen.
func (c *Console) incidentAction(w http.ResponseWriter, r *http.Request, u *user) {
	id, action := r.PathValue("id"), r.PathValue("action")
	if action != "ack" && action != "resolve" && action != "reopen" {
		c.fail(w, r, u, http.StatusNotFound, "no action "+action+": ack, resolve or reopen", nil)
		return
	}
	body := map[string]any{}
	if reason := r.PostFormValue("reason"); reason != "" {
		body["reason"] = reason
	}
	c.act(w, r, u, action, apiPath("incidents", id, action), body, func(map[string]any) string { return "/incidents/" + url.PathEscape(id) })
}
