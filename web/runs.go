package web

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/workflows"
)

// runStatuses are the run list's status filter values (the API's).
var runStatuses = []string{workflows.RunRunning, workflows.RunWaitingDecision, workflows.RunSucceeded, workflows.RunFailed, workflows.RunCancelled}

func (c *Console) runsPage(w http.ResponseWriter, r *http.Request, u *user) {
	q := url.Values{}
	for _, k := range []string{"runbook", "status", "cursor"} {
		if v := r.URL.Query().Get(k); v != "" {
			q.Set(k, v)
		}
	}
	var list runList
	err := c.call(r, u, "GET", "/api/v1/runs?"+q.Encode(), nil, &list)
	data := map[string]any{"Runbook": q.Get("runbook"), "Status": q.Get("status"), "Statuses": runStatuses, "Runs": list.Runs}
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
		data["Next"] = "/runs?" + q.Encode()
	}
	c.render(w, r, u, status, "runs", data)
}

// stepRow is a timeline entry with what the run page offers for it.
type stepRow struct {
	workflows.StepState
	Key      string
	Decision bool // waiting for a decision the user may take
	Approval bool // waiting for votes
}

func (c *Console) runPage(w http.ResponseWriter, r *http.Request, u *user) {
	id := r.PathValue("id")
	var rv runView
	if err := c.call(r, u, "GET", apiPath("runs", id)+"?stepsLimit="+strconv.Itoa(workflows.MaxStepsLimit), nil, &rv); err != nil {
		c.fail(w, r, u, 0, "run "+id, err)
		return
	}
	rows := make([]stepRow, len(rv.Steps))
	for i, s := range rv.Steps {
		rows[i] = stepRow{StepState: s, Key: stepKey(s.ID, s.Item), Approval: s.Status == workflows.StatusWaitingApproval,
			Decision: s.Status == workflows.StatusWaitingDecision && u.id.Has("operator")}
	}
	var rb runbookView
	_ = c.call(r, u, "GET", apiPath("runbooks", rv.Runbook)+"?version="+strconv.Itoa(rv.Version), nil, &rb)
	var steps []string
	graph := graphOf(plan.WithExceptions(rb.Plan, rv.Exceptions), rv.Steps) // a break-glass run waits at its exceptions first
	if rb.Plan != nil {
		rb.Plan.Walk(func(s *plan.Step) bool { steps = append(steps, s.ID); return true })
	}
	c.render(w, r, u, http.StatusOK, "run", map[string]any{"Run": rv, "Rows": rows, "Ended": workflows.Ended(rv.Status),
		"Steps": steps, "Graph": graph, "Done": r.URL.Query().Get("done")})
}

// runEvents is the API's event stream of a run, for the run page's
// script (EventSource sends the cookie, not a bearer token).
func (c *Console) runEvents(w http.ResponseWriter, r *http.Request, u *user) {
	req, err := apiRequest(r, u, "GET", apiPath("runs", r.PathValue("id"), "events"), nil)
	if err != nil {
		c.fail(w, r, u, http.StatusInternalServerError, "the event stream", err)
		return
	}
	req.Header.Set("Accept", "text/event-stream")
	c.opts.API.ServeHTTP(w, req)
}

func (c *Console) logsPage(w http.ResponseWriter, r *http.Request, u *user) {
	id, step := r.PathValue("id"), r.URL.Query().Get("step")
	path := apiPath("runs", id, "logs")
	if step != "" {
		path = apiPath("runs", id, "steps", step, "logs")
	}
	var lp logPage
	if err := c.call(r, u, "GET", path+"?limit=5000", nil, &lp); err != nil {
		c.fail(w, r, u, 0, "the logs of run "+id, err)
		return
	}
	c.render(w, r, u, http.StatusOK, "logs", map[string]any{"Run": id, "Step": step, "Logs": lp})
}

// act posts body to the API's path as the user, then goes back to the run
// page (to is the run to show) saying done; a refusal shows the API's
// reason.
func (c *Console) act(w http.ResponseWriter, r *http.Request, u *user, what, path string, body any, to func(answer map[string]any) string) {
	var answer map[string]any
	if err := c.call(r, u, "POST", path, body, &answer); err != nil {
		c.fail(w, r, u, http.StatusServiceUnavailable, what+" refused", err)
		return
	}
	http.Redirect(w, r, to(answer)+"?done="+url.QueryEscape(what), http.StatusSeeOther)
}

func (c *Console) cancel(w http.ResponseWriter, r *http.Request, u *user) {
	id := r.PathValue("id")
	body := map[string]any{}
	if reason := r.PostFormValue("reason"); reason != "" {
		body["reason"] = reason
	}
	c.act(w, r, u, "cancel", apiPath("runs", id, "cancel"), body, func(map[string]any) string { return "/runs/" + url.PathEscape(id) })
}

func (c *Console) rerun(w http.ResponseWriter, r *http.Request, u *user) {
	id := r.PathValue("id")
	body := map[string]any{}
	for _, k := range []string{"from", "version", "reason"} {
		if v := r.PostFormValue(k); v != "" {
			body[k] = v
		}
	}
	c.act(w, r, u, "rerun", apiPath("runs", id, "rerun"), body, func(a map[string]any) string {
		if nid, ok := a["id"].(string); ok {
			return "/runs/" + url.PathEscape(nid)
		}
		return "/runs/" + url.PathEscape(id)
	})
}

func (c *Console) decide(w http.ResponseWriter, r *http.Request, u *user) {
	id, step := r.PathValue("id"), r.PathValue("step")
	body := map[string]any{"action": r.PostFormValue("action")}
	if v := r.PostFormValue("comment"); v != "" {
		body["comment"] = v
	}
	if v := r.PostFormValue("item"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			c.fail(w, r, u, http.StatusBadRequest, "item must be a whole number", nil)
			return
		}
		body["item"] = n
	}
	c.act(w, r, u, "decision", apiPath("runs", id, "steps", step, "decision"), body, func(map[string]any) string { return "/runs/" + url.PathEscape(id) })
}
