package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

func (c *Console) runbooksPage(w http.ResponseWriter, r *http.Request, u *user) {
	var list struct {
		Runbooks []runbookView `json:"runbooks"`
	}
	if err := c.call(r, u, "GET", "/api/v1/runbooks", nil, &list); err != nil {
		c.fail(w, r, u, 0, "the runbooks could not be listed", err)
		return
	}
	c.render(w, r, u, http.StatusOK, "runbooks", list.Runbooks)
}

// runbookData is the runbook page's.
type runbookData struct {
	Runbook   runbookView
	Versions  []runbookView
	Schedules []scheduleView
	Diff      *diffView
	Fields    []field
	Refused   *apiProblem
	Done      string
	Graph     []graphSection
	// Freezes hold the runbook back now or soon (GET /api/v1/freezes).
	Freezes []freezeView
	// BreakGlass is offered when an active freeze allows it.
	BreakGlass bool
	// Preview is what a start with the form's params would do, shown
	// before the user confirms it.
	Preview *runPreview
}

func (c *Console) runbookPage(w http.ResponseWriter, r *http.Request, u *user) {
	d, err := c.runbook(r, u)
	if err != nil {
		c.fail(w, r, u, 0, "runbook "+r.PathValue("name"), err)
		return
	}
	d.Done = r.URL.Query().Get("done")
	c.render(w, r, u, http.StatusOK, "runbook", d)
}

func (c *Console) runbook(r *http.Request, u *user) (*runbookData, error) {
	name := r.PathValue("name")
	d := &runbookData{}
	path := apiPath("runbooks", name)
	if v := r.URL.Query().Get("version"); v != "" {
		path += "?version=" + url.QueryEscape(v)
	}
	if err := c.call(r, u, "GET", path, nil, &d.Runbook); err != nil {
		return nil, err
	}
	var vs struct {
		Versions []runbookView `json:"versions"`
	}
	_ = c.call(r, u, "GET", apiPath("runbooks", name, "versions"), nil, &vs)
	d.Versions = vs.Versions
	if p := d.Runbook.Plan; p != nil {
		for _, s := range p.Schedules {
			var sv scheduleView
			if err := c.call(r, u, "GET", apiPath("runbooks", name, "schedules", s.Name), nil, &sv); err != nil {
				sv = scheduleView{Name: s.Name, Cron: s.Cron, Timezone: s.Timezone, Paused: s.Paused}
			}
			d.Schedules = append(d.Schedules, sv)
		}
		d.Fields = fieldsOf(p.Params, "param.", nil)
		d.Graph = graphOf(p, nil)
	}
	var fl struct {
		Freezes []freezeView `json:"freezes"`
	}
	if err := c.call(r, u, "GET", "/api/v1/freezes?runbook="+url.QueryEscape(name), nil, &fl); err == nil {
		d.Freezes = fl.Freezes
		for _, f := range fl.Freezes {
			d.BreakGlass = d.BreakGlass || (f.Active && f.BreakGlass != nil)
		}
	}
	if d.Runbook.Version > 1 {
		var diff diffView
		q := "?from=" + strconv.Itoa(d.Runbook.Version-1) + "&to=" + strconv.Itoa(d.Runbook.Version)
		if err := c.call(r, u, "GET", apiPath("runbooks", name, "diff")+q, nil, &diff); err == nil {
			d.Diff = &diff
		}
	}
	return d, nil
}

// startRun starts a run of the runbook's latest version with the form's
// params, typed as declared; the API checks them (a refusal shows every
// problem on the runbook page).
func (c *Console) startRun(w http.ResponseWriter, r *http.Request, u *user) {
	name := r.PathValue("name")
	r.URL.RawQuery = ""
	d, err := c.runbook(r, u)
	if err != nil {
		c.fail(w, r, u, 0, "runbook "+name, err)
		return
	}
	params := map[string]any{}
	if d.Runbook.Plan != nil {
		params = formValues(r, d.Runbook.Plan.Params, "param.")
	}
	body := map[string]any{"params": params}
	if why := strings.TrimSpace(r.PostFormValue("breakGlass")); why != "" {
		body["breakGlass"] = why
	}
	var run runView
	if err := c.call(r, u, "POST", apiPath("runbooks", name, "runs"), body, &run); err != nil {
		p, ok := err.(*apiProblem)
		if !ok {
			c.fail(w, r, u, http.StatusServiceUnavailable, "the run was not started", err)
			return
		}
		d.Refused = p
		if d.Runbook.Plan != nil {
			d.Fields = fieldsOf(d.Runbook.Plan.Params, "param.", r)
		}
		c.render(w, r, u, p.Status, "runbook", d)
		return
	}
	http.Redirect(w, r, "/runs/"+url.PathEscape(run.ID)+"?done=start", http.StatusSeeOther)
}

// previewStart shows what a start with the form's params would do (POST
// /api/v1/runbooks/:name/plan), with the form filled in as it was, to
// confirm with Start.
func (c *Console) previewStart(w http.ResponseWriter, r *http.Request, u *user) {
	name := r.PathValue("name")
	r.URL.RawQuery = ""
	d, err := c.runbook(r, u)
	if err != nil {
		c.fail(w, r, u, 0, "runbook "+name, err)
		return
	}
	params := map[string]any{}
	if d.Runbook.Plan != nil {
		params = formValues(r, d.Runbook.Plan.Params, "param.")
		d.Fields = fieldsOf(d.Runbook.Plan.Params, "param.", r)
	}
	var pv runPreview
	body := map[string]any{"params": params, "version": d.Runbook.Version}
	if err := c.call(r, u, "POST", apiPath("runbooks", name, "plan"), body, &pv); err != nil {
		p, ok := err.(*apiProblem)
		if !ok {
			c.fail(w, r, u, http.StatusServiceUnavailable, "the start could not be previewed", err)
			return
		}
		d.Refused = p
		c.render(w, r, u, p.Status, "runbook", d)
		return
	}
	d.Preview = &pv
	c.render(w, r, u, http.StatusOK, "runbook", d)
}

// scheduleAction pauses, unpauses or triggers a schedule through the API.
func (c *Console) scheduleAction(w http.ResponseWriter, r *http.Request, u *user) {
	name, sched, action := r.PathValue("name"), r.PathValue("schedule"), r.PathValue("action")
	switch action {
	case "pause", "unpause", "trigger":
	default:
		c.fail(w, r, u, http.StatusNotFound, "no schedule action "+action, nil)
		return
	}
	var answer map[string]any
	if err := c.call(r, u, "POST", apiPath("runbooks", name, "schedules", sched, action), map[string]any{}, &answer); err != nil {
		c.fail(w, r, u, 0, action+" refused", err)
		return
	}
	http.Redirect(w, r, "/runbooks/"+url.PathEscape(name)+"?done="+action, http.StatusSeeOther)
}
