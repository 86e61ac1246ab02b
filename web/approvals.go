package web

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/runbooks"
	"github.com/opsrunbook/runbook/workflows"
)

// inbox lists what waits for the user (GET /api/v1/approvals?mine=true
// decides it, groups included), then what waits for others.
func (c *Console) inbox(w http.ResponseWriter, r *http.Request, u *user) {
	var all approvalList
	if err := c.call(r, u, "GET", "/api/v1/approvals", nil, &all); err != nil {
		c.fail(w, r, u, 0, "the approvals could not be listed", err)
		return
	}
	runs := map[string]*runView{}
	plans := map[string]*plan.Plan{}
	var mine, others []pendingApproval
	for _, a := range all.Approvals {
		c.timing(r, u, &a, runs, plans)
		if a.Mine {
			mine = append(mine, a)
		} else {
			others = append(others, a)
		}
	}
	c.render(w, r, u, http.StatusOK, "inbox", map[string]any{"Mine": mine, "Others": others})
}

// timing fills in when a waits since (its timeline entry's start) and its
// deadline (the approval's fixed timeout from then), from the run's
// record; a waiting entry inside a sub-runbook run has neither.
func (c *Console) timing(r *http.Request, u *user, a *pendingApproval, runs map[string]*runView, plans map[string]*plan.Plan) {
	if a.Parent != "" {
		return
	}
	rv, ok := runs[a.Run]
	if !ok {
		rv = &runView{}
		if err := c.call(r, u, "GET", apiPath("runs", a.Run), nil, rv); err != nil {
			rv = nil
		}
		runs[a.Run] = rv
	}
	if rv == nil {
		return
	}
	for _, s := range rv.Steps {
		if s.ID == a.Step && sameItem(s.Item, a.Item) {
			a.Since = s.StartedAt
		}
	}
	p := c.planOf(r, u, rv.Runbook, rv.Version, plans)
	if p == nil || a.Since == nil {
		return
	}
	if s := p.Step(a.Step); s != nil && s.Approval != nil && s.Approval.Timeout.Expr == nil && s.Approval.Timeout.D > 0 {
		d := a.Since.Add(s.Approval.Timeout.D)
		a.Deadline = &d
	}
}

func (c *Console) planOf(r *http.Request, u *user, name string, version int, plans map[string]*plan.Plan) *plan.Plan {
	key := name + "@" + strconv.Itoa(version)
	if p, ok := plans[key]; ok {
		return p
	}
	var rb runbookView
	if err := c.call(r, u, "GET", apiPath("runbooks", name)+"?version="+strconv.Itoa(version), nil, &rb); err != nil {
		rb.Plan = nil
	}
	plans[key] = rb.Plan
	return rb.Plan
}

func sameItem(a, b *int) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

// approvalData is what the approval page shows.
type approvalData struct {
	RunID, Step string
	Item        *int
	Run         *runView
	RunError    string
	Entry       *workflows.StepState
	Pending     *pendingApproval // the inbox's entry: Mine says whether the user may vote
	Approval    *plan.Approval
	Inputs      []field
	Next        []nextStep
	Diff        *diffView
	Refused     *apiProblem
	Voted       string
	Comment     string
}

// nextStep is a step the run has not reached yet, with what it will do:
// the run's preview (GET /api/v1/runs/:id/plan) renders its inputs with
// the outputs of the steps that ended.
type nextStep struct {
	Key, Summary, Decision, Reason string
	Depth                          int
	Inputs                         []kv
}

type kv struct{ Key, Value string }

// approvalPage shows what is being approved: the runbook, version and
// its diff against the previous version, params, starter, earlier votes,
// the steps that run next; and the vote form when the API would take the
// user's vote.
func (c *Console) approvalPage(w http.ResponseWriter, r *http.Request, u *user) {
	d := c.approval(r, u)
	d.Voted = r.URL.Query().Get("voted")
	c.render(w, r, u, http.StatusOK, "approval", d)
}

func (c *Console) approval(r *http.Request, u *user) *approvalData {
	d := &approvalData{RunID: r.PathValue("id"), Step: r.PathValue("step")}
	if s := r.FormValue("item"); s != "" {
		if n, err := strconv.Atoi(s); err == nil {
			d.Item = &n
		}
	}
	rv := &runView{}
	if err := c.call(r, u, "GET", apiPath("runs", d.RunID), nil, rv); err != nil {
		d.RunError = err.Error()
	} else {
		d.Run = rv
		p := c.planOf(r, u, rv.Runbook, rv.Version, map[string]*plan.Plan{})
		for i := range rv.Steps {
			if s := &rv.Steps[i]; s.ID == d.Step && sameItem(s.Item, d.Item) {
				d.Entry = s
			}
		}
		d.Next = c.next(r, u, d.RunID, d.Step)
		if p != nil {
			if ps := p.Step(d.Step); ps != nil && ps.Approval != nil {
				d.Approval = ps.Approval
				d.Inputs = fieldsOf(ps.Approval.Inputs, "input.", nil)
			}
		}
		if rv.Version > 1 {
			var diff diffView
			q := "?from=" + strconv.Itoa(rv.Version-1) + "&to=" + strconv.Itoa(rv.Version)
			if err := c.call(r, u, "GET", apiPath("runbooks", rv.Runbook, "diff")+q, nil, &diff); err == nil {
				d.Diff = &diff
			}
		}
	}
	var all approvalList
	if err := c.call(r, u, "GET", "/api/v1/approvals", nil, &all); err == nil {
		for i, a := range all.Approvals {
			if a.Kind == "approval" && a.Step == d.Step && sameItem(a.Item, d.Item) && (a.Run == d.RunID || a.Parent == d.RunID) {
				d.Pending = &all.Approvals[i]
				break
			}
		}
	}
	return d
}

// next is what the run's preview says of the steps after step, in the
// main steps; none once the run has ended.
func (c *Console) next(r *http.Request, u *user, runID, step string) []nextStep {
	var pv runPreview
	if err := c.call(r, u, "GET", apiPath("runs", runID, "plan"), nil, &pv); err != nil {
		return nil
	}
	var out []nextStep
	after := false
	for _, s := range pv.Steps {
		if s.Section != "steps" {
			break
		}
		if s.ID == step {
			after = true
			continue
		}
		if !after || s.Decision == runbooks.DecideDone {
			continue
		}
		n := nextStep{Key: s.ID, Summary: s.Summary, Decision: s.Decision, Reason: s.Reason, Depth: s.Depth}
		for _, in := range s.Inputs {
			n.Inputs = append(n.Inputs, kv{in.Name, in.Value})
		}
		out = append(out, n)
	}
	return out
}

// vote sends the form's vote through the API as the user; a refusal is
// shown on the approval page with the API's reason.
func (c *Console) vote(w http.ResponseWriter, r *http.Request, u *user) {
	runID, step := r.PathValue("id"), r.PathValue("step")
	body := map[string]any{"decision": r.PostFormValue("decision"), "comment": r.PostFormValue("comment")}
	var item *int
	if s := r.PostFormValue("item"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			c.fail(w, r, u, http.StatusBadRequest, "item must be a whole number", nil)
			return
		}
		item, body["item"] = &n, n
	}
	d := c.approval(r, u)
	if d.Approval != nil && len(d.Approval.Inputs) > 0 {
		body["inputs"] = formValues(r, d.Approval.Inputs, "input.")
	}
	target := runID
	if d.Pending != nil {
		target = d.Pending.Run // a sub-runbook's approval is voted through its run
	}
	if err := c.call(r, u, "POST", apiPath("runs", target, "approvals", step), body, nil); err != nil {
		p, ok := err.(*apiProblem)
		if !ok {
			c.fail(w, r, u, http.StatusServiceUnavailable, "the vote was not sent", err)
			return
		}
		d.Refused, d.Comment = p, r.PostFormValue("comment")
		d.Inputs = fieldsOf(inputsOf(d.Approval), "input.", r)
		c.render(w, r, u, p.Status, "approval", d)
		return
	}
	q := url.Values{"voted": {r.PostFormValue("decision")}}
	if item != nil {
		q.Set("item", strconv.Itoa(*item))
	}
	http.Redirect(w, r, "/runs/"+url.PathEscape(runID)+"/approvals/"+url.PathEscape(step)+"?"+q.Encode(), http.StatusSeeOther)
}

func inputsOf(a *plan.Approval) []plan.Param {
	if a == nil {
		return nil
	}
	return a.Inputs
}
