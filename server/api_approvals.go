package server

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/opsrunbook/runbook/plan"

	"github.com/labstack/echo/v4"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/opsrunbook/runbook/attest"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/workflows"
)

type voteRequest struct {
	Decision plan.VoteDecision `json:"decision"`
	Comment  string            `json:"comment"`
	Item     *int              `json:"item"`
	Inputs   map[string]any    `json:"inputs"`
}

// voteStatus maps the interpreter's refusals to HTTP.
var voteStatus = map[string]int{
	workflows.VoteNotApprover:  http.StatusForbidden,
	workflows.VoteSelf:         http.StatusForbidden,
	workflows.VoteAlreadyVoted: http.StatusConflict,
	workflows.VoteNotWaiting:   http.StatusConflict,
	workflows.VoteInvalid:      http.StatusUnprocessableEntity,
	workflows.SealMissing:      http.StatusForbidden,
	workflows.SealForged:       http.StatusForbidden,
	workflows.SealReplayed:     http.StatusConflict,
}

// vote sends an approval vote as the caller: who votes comes from the
// token, never from the body. The vote is recorded and audited first, then
// sealed with the API's key and sent; the run verifies the seal, so only
// the API can vote. A vote the run refuses is removed again.
func (a *API) vote(c echo.Context) error {
	r, err := a.Store.Run(c.Param("id"))
	if err != nil {
		return notFoundOr(err, "no run "+c.Param("id"))
	}
	var req voteRequest
	if err := decodeBody(c, &req, false); err != nil {
		return err
	}
	signer, err := a.signer()
	if err != nil {
		return err
	}
	id := identity(c)
	vr := workflows.VoteRequest{Step: c.Param("step"), Item: req.Item, Decision: req.Decision, Comment: req.Comment,
		User: id.User, Groups: id.Groups, Inputs: req.Inputs}
	body := &workflows.SignedVote{VoteRequest: vr}
	seal, err := signer.Seal(attest.KindVote, r.ID, timeNow(), body)
	if err != nil {
		return err
	}
	item := -1
	if req.Item != nil {
		item = *req.Item
	}
	rec := &store.Vote{RunID: r.ID, StepID: vr.Step, Item: item, User: id.User, Decision: string(vr.Decision), Comment: vr.Comment, Nonce: body.Nonce, At: body.At}
	auditID, err := a.Store.PrepareVote(rec, map[string]string{"decision": string(vr.Decision), "comment": vr.Comment, "item": strconv.Itoa(item)})
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	h, err := a.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: r.ID, UpdateName: workflows.UpdateApprove,
		Args: []any{withSeal(vr, seal)}, WaitForStage: client.WorkflowUpdateStageCompleted})
	var res workflows.VoteResult
	if err == nil {
		err = h.Get(ctx, &res)
	}
	if err == nil {
		if err := a.Store.CountVote(rec.ID); err != nil {
			c.Logger().Warnf("vote %d counted by the run, still pending in the records: %v", rec.ID, err)
		}
		return c.JSON(http.StatusOK, res)
	}
	var app *temporal.ApplicationError
	var nf *serviceerror.NotFound
	refused := errors.As(err, &app) || errors.As(err, &nf)
	if !refused {
		// The run may have counted it: the pending record stays, and a retry
		// finds it.
		return problem(http.StatusServiceUnavailable, "the vote is recorded but the run did not answer: "+err.Error(), map[string]string{"run": r.ID})
	}
	if derr := a.Store.DropVote(rec.ID, auditID); derr != nil {
		return derr
	}
	if app == nil || app.Type() == workflows.VoteAlreadyVoted || app.Type() == workflows.VoteNotWaiting {
		// A retry of a vote: answer as the first time if the run holds the
		// same vote by this user (it counted an earlier attempt).
		if res, ok := a.countedVote(c, r.ID, vr, req.Item); ok {
			if prev, perr := a.Store.VoteOf(r.ID, vr.Step, item, id.User); perr == nil {
				_ = a.Store.CountVote(prev.ID)
			}
			return c.JSON(http.StatusOK, res)
		}
	}
	if app != nil {
		if status, ok := voteStatus[app.Type()]; ok {
			return problem(status, app.Message(), map[string]string{"reason": app.Type()})
		}
	}
	return problem(http.StatusConflict, "the run does not take votes: "+err.Error())
}

// countedVote looks in the run's timeline for vr's user's vote on its step
// and returns the approval's state when the run holds the same decision.
func (a *API) countedVote(c echo.Context, run string, vr workflows.VoteRequest, item *int) (workflows.VoteResult, bool) {
	st, _, err := a.liveStatus(c.Request().Context(), run)
	if err != nil {
		return workflows.VoteResult{}, false
	}
	for _, s := range st.Steps {
		if s.ID != vr.Step || (item == nil) != (s.Item == nil) || item != nil && *item != *s.Item {
			continue
		}
		res := workflows.VoteResult{Step: vr.Step, Decision: plan.DecisionPending, Needed: s.MinApprovals}
		mine := false
		for _, v := range s.Votes {
			mine = mine || v.User == vr.User && v.Decision == vr.Decision
			if v.Decision == plan.VoteApprove {
				res.Approvals++
			}
		}
		if d, ok := s.Outputs["decision"].(string); ok && d != "" {
			res.Decision = plan.Decision(d) // set once the approval is decided
		}
		return res, mine
	}
	return workflows.VoteResult{}, false
}

type eventRequest struct {
	Payload map[string]any `json:"payload"`
}

// postEvent delivers an event to a run's waitFor steps, as the caller,
// sealed like a vote.
func (a *API) postEvent(c echo.Context) error {
	r, err := a.Store.Run(c.Param("id"))
	if err != nil {
		return notFoundOr(err, "no run "+c.Param("id"))
	}
	v, err := a.Store.Runbook(r.Runbook, r.Version)
	if err != nil {
		return err
	}
	p, err := v.PlanOf()
	if err != nil {
		return err
	}
	id := identity(c)
	name := c.Param("name")
	if !waitsFor(p, name) {
		// Nothing would take it: refused, so no poster can grow a run's
		// history with events it will never read.
		return problem(http.StatusNotFound, "runbook "+p.Name+" has no waitFor step for event "+name)
	}
	if !workflows.Senders(p, name, id.User, id.Groups) {
		return problem(http.StatusForbidden, id.User+" may not post "+name+" to this run")
	}
	var req eventRequest
	if err := decodeBody(c, &req, true); err != nil {
		return err
	}
	signer, err := a.signer()
	if err != nil {
		return err
	}
	ev := workflows.Event{Name: name, Payload: req.Payload, Sender: id.User, Groups: id.Groups}
	body := &workflows.SignedEvent{Event: ev}
	if ev.Seal, err = signer.Seal(attest.KindEvent, r.ID, timeNow(), body); err != nil {
		return err
	}
	ctx := c.Request().Context()
	h, err := a.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: r.ID, UpdateName: workflows.UpdateEvent,
		Args: []any{ev}, WaitForStage: client.WorkflowUpdateStageCompleted})
	var res workflows.EventResult
	if err == nil {
		err = h.Get(ctx, &res)
	}
	if err != nil {
		var app *temporal.ApplicationError
		if errors.As(err, &app) {
			if status, ok := voteStatus[app.Type()]; ok {
				return problem(status, app.Message(), map[string]string{"reason": app.Type()})
			}
		}
		return problem(http.StatusConflict, "the run is not running")
	}
	if err := a.Store.Audit(id.User, "run.event", r.ID+"/"+name, nil); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]string{"run": r.ID, "event": name})
}

// pendingApproval is an approval step waiting for votes.
type pendingApproval struct {
	Run       string   `json:"run"`
	Runbook   string   `json:"runbook"`
	Step      string   `json:"step"`
	Item      *int     `json:"item,omitempty"`
	Message   string   `json:"message,omitempty"`
	Approvers []string `json:"approvers"`
	Votes     int      `json:"votes"`
	Needed    int      `json:"needed"`
	Mine      bool     `json:"mine"` // the caller may vote
}

// listApprovals lists the approvals running runs wait for; with
// mine=true, only those the caller may vote on.
func (a *API) listApprovals(c echo.Context) error {
	id := identity(c)
	mineOnly := c.QueryParam("mine") == "true"
	runs, _, err := a.Store.Runs(storeRunning())
	if err != nil {
		return err
	}
	out := []pendingApproval{}
	plans := map[string]*plan.Plan{}
	for i := range runs {
		st, _, err := a.liveStatus(c.Request().Context(), runs[i].ID)
		if err != nil {
			continue
		}
		for _, s := range st.Steps {
			if s.Status != workflows.StatusWaitingApproval {
				continue
			}
			voted := false
			for _, vote := range s.Votes {
				voted = voted || vote.User == id.User
			}
			self := id.User == runs[i].Starter() && !a.selfApprovable(plans, &runs[i], s.ID)
			mine := !voted && eligibleVoter(s.Approvers, id.User, id.Groups) && !self
			if mineOnly && !mine {
				continue
			}
			out = append(out, pendingApproval{Run: runs[i].ID, Runbook: runs[i].Runbook, Step: s.ID, Item: s.Item, Message: s.Message,
				Approvers: s.Approvers, Votes: len(s.Votes), Needed: s.MinApprovals, Mine: mine})
		}
	}
	return c.JSON(http.StatusOK, map[string]any{"approvals": out})
}

// selfApprovable says whether the run's plan lets its starter approve
// step (allowSelfApproval), as the run itself decides a vote; plans caches
// the plans by runbook version.
func (a *API) selfApprovable(plans map[string]*plan.Plan, r *store.Run, step string) bool {
	key := r.Runbook + "@" + strconv.Itoa(r.Version)
	p, ok := plans[key]
	if !ok {
		if v, err := a.Store.Runbook(r.Runbook, r.Version); err == nil {
			p, _ = v.PlanOf()
		}
		plans[key] = p
	}
	if p == nil {
		return false
	}
	s := p.Step(step)
	return s != nil && s.Approval != nil && s.Approval.AllowSelfApproval
}

func eligibleVoter(approvers []string, user string, groups []string) bool {
	for _, a := range approvers {
		if g, ok := strings.CutPrefix(a, "group:"); ok && slices.Contains(groups, g) || a == user {
			return true
		}
	}
	return false
}

func storeRunning() store.RunFilter { return store.RunFilter{Status: workflows.RunRunning, Limit: 500} }

// withSeal is the vote as the Update's argument: the seal, which runs that
// verify seals decode, and the plain fields for runs started before seals.
func withSeal(vr workflows.VoteRequest, seal *attest.Seal) workflows.VoteRequest {
	vr.Seal = seal
	return vr
}

// waitsFor reports whether a step of p waits for event name.
func waitsFor(p *plan.Plan, name string) bool {
	found := false
	p.Walk(func(s *plan.Step) bool {
		found = found || s.WaitFor != nil && s.WaitFor.Event == name
		return !found
	})
	return found
}
