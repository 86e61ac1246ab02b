package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

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
	workflows.EventUnknown:     http.StatusNotFound,
	workflows.EventsPending:    http.StatusTooManyRequests,
}

// vote sends an approval vote as the caller: who votes comes from the
// token, never from the body. The vote is recorded first (pending), then
// sealed with the API's key and sent; the run verifies the seal, so only
// the API can vote. The run's answer is audited: a counted vote as done, a
// refused one (removed again) as refused with the reason.
func (a *API) vote(c echo.Context) error {
	wf, err := a.voteTarget(c.Request().Context(), c.Param("id"), c.Param("step"))
	if err != nil {
		return err
	}
	run, runbook := a.auditScope(wf)
	var req voteRequest
	rec := &store.Vote{RunID: wf, StepID: c.Param("step"), Item: -1, User: identity(c).User}
	err = decodeBody(c, &req, false)
	if err == nil {
		err = capSize("comment", len(req.Comment), MaxComment)
	}
	if err == nil {
		err = capJSON("inputs", req.Inputs, MaxVoteInputs)
	}
	if reason, status, ok := refusal(err); ok {
		rec.Decision = string(req.Decision)
		if req.Item != nil {
			rec.Item = *req.Item
		}
		a.appendRefusal(c, store.VoteAudit(rec, run, runbook, reason, "", status))
		return err
	}
	if err != nil {
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
	seal, err := signer.Seal(attest.KindVote, wf, timeNow(), body)
	if err != nil {
		return err
	}
	item := -1
	if req.Item != nil {
		item = *req.Item
	}
	rec = &store.Vote{RunID: wf, StepID: vr.Step, Item: item, User: id.User, Decision: string(vr.Decision), Comment: vr.Comment, Nonce: body.Nonce, At: body.At}
	if err := a.Store.PrepareVote(rec); err != nil {
		return err
	}
	// Once sent, the vote is settled whatever the caller does: a client
	// that hangs up must not leave a counted vote without its entry.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request().Context()), VoteWait)
	defer cancel()
	h, err := a.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: wf, UpdateName: workflows.UpdateApprove,
		Args: []any{withSeal(vr, seal)}, WaitForStage: client.WorkflowUpdateStageCompleted})
	var res workflows.VoteResult
	if err == nil {
		err = h.Get(ctx, &res)
	}
	if err == nil {
		if err := a.Store.CountVote(rec.ID, run, runbook); err != nil {
			c.Logger().Warnf("vote %d counted by the run, still pending in the records (the syncer settles it): %v", rec.ID, err)
		}
		a.recordVoted(ctx, wf)
		return c.JSON(http.StatusOK, res)
	}
	var app *temporal.ApplicationError
	var nf *serviceerror.NotFound
	refused := errors.As(err, &app) || errors.As(err, &nf)
	if !refused {
		// The run may have counted it: the pending record stays, and a retry
		// or the syncer (settlePendingVotes) finds it and audits it then.
		return problem(http.StatusServiceUnavailable, "the vote is recorded but the run did not answer: "+err.Error(), map[string]string{"run": wf})
	}
	if status, over := a.endedRun(ctx, wf); over {
		// Even a repeat of a vote it counted: the run has ended and takes
		// no vote (Temporal's own wording stays out of the answer).
		answer := ended(wf, status)
		reason, code, _ := refusal(answer)
		if derr := a.Store.RefuseVote(rec.ID, store.VoteAudit(rec, run, runbook, reason, "", code)); derr != nil {
			return derr
		}
		return answer
	}
	if app == nil || app.Type() == workflows.VoteAlreadyVoted || app.Type() == workflows.VoteNotWaiting {
		// A retry of a vote: answer as the first time if the run holds the
		// same vote by this user (it counted an earlier attempt, audited
		// when it was counted, or now if its answer was lost).
		if res, ok := a.countedVote(ctx, wf, vr, req.Item); ok {
			if derr := a.Store.DropVote(rec.ID); derr != nil {
				return derr
			}
			if prev, perr := a.Store.VoteOf(wf, vr.Step, item, id.User); perr == nil {
				_ = a.Store.CountVote(prev.ID, run, runbook)
			}
			a.recordVoted(ctx, wf)
			return c.JSON(http.StatusOK, res)
		}
	}
	answer, code := problem(http.StatusConflict, "the run does not take votes: "+err.Error()), ""
	if app != nil {
		if status, ok := voteStatus[app.Type()]; ok {
			answer, code = problem(status, app.Message(), map[string]string{"reason": app.Type()}), app.Type()
		}
	}
	reason, status, _ := refusal(answer)
	if code != "" {
		reason = app.Message() // the code is the detail's
		var without string
		if code == workflows.VoteInvalid && app.HasDetails() && app.Details(&without) == nil {
			reason = without // the trail never holds a vote's input values
		}
	}
	if derr := a.Store.RefuseVote(rec.ID, store.VoteAudit(rec, run, runbook, reason, code, status)); derr != nil {
		return derr
	}
	return answer
}

// RecordVotedWait bounds writing a run's records after a vote or decision.
const RecordVotedWait = 3 * time.Second

// recordVoted brings the step records of run wf up to date once a vote
// on it is counted, as a pass of the syncer would, so that the approvals
// list (which reads the records) shows the vote, or the approval decided,
// as soon as the vote is answered. A sub-runbook run (whose timeline is
// not recorded; the list asks it) records nothing. A failure leaves it to
// the syncer.
func (a *API) recordVoted(ctx context.Context, wf string) {
	// Its own time: the Update may have used most of the request's.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), RecordVotedWait)
	defer cancel()
	if r, err := a.Store.Run(wf); err == nil {
		a.syncRun(ctx, r)
	}
}

// countedVote looks in the run's timeline for vr's user's vote on its step
// and returns the approval's state when the run holds the same decision.
func (a *API) countedVote(ctx context.Context, run string, vr workflows.VoteRequest, item *int) (workflows.VoteResult, bool) {
	st, _, err := a.liveStatus(ctx, run)
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
	if !workflows.WaitsFor(p, name) {
		// Nothing would take it: refused, so no poster can grow a run's
		// history with events it will never read.
		return problem(http.StatusNotFound, "runbook "+p.Name+" has no waitFor step for event "+name, map[string]string{"reason": workflows.EventUnknown})
	}
	if !workflows.Senders(p, name, id.User, id.Groups) {
		return problem(http.StatusForbidden, id.User+" may not post "+name+" to this run")
	}
	var req eventRequest
	if err := decodeBody(c, &req, true); err != nil {
		return err
	}
	if err := capJSON("payload", req.Payload, MaxEventPayload); err != nil {
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
	// As a vote: once sent, the run's answer and the entry do not depend
	// on the caller still waiting.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request().Context()), VoteWait)
	defer cancel()
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
	size, _ := json.Marshal(req.Payload)
	if err := a.Store.Append(store.AuditRecord{Actor: id.User, Action: store.ActionRunEvent, Target: r.ID + "/" + name, Run: r.ID, Runbook: r.Runbook,
		Detail: store.EventDetail{Event: name, Size: len(size)}}); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]string{"run": r.ID, "event": name})
}

// pendingApproval is an approval step waiting for votes. Run is the
// workflow that holds it, the one to vote through: the run, or for an
// approval inside a sub-runbook the child run (<run>.<step>[.<item>]),
// whose record is Parent's.
type pendingApproval struct {
	// Kind is approval, or decision: a step that failed under
	// onStepFailure: ask (Deciders, Error and ErrorType are then set).
	Kind      string   `json:"kind"`
	Run       string   `json:"run"`
	Parent    string   `json:"parentRun,omitempty"`
	Runbook   string   `json:"runbook"`
	Step      string   `json:"step"`
	Item      *int     `json:"item,omitempty"`
	Message   string   `json:"message,omitempty"`
	Approvers []string `json:"approvers"`
	Votes     int      `json:"votes"`
	Needed    int      `json:"needed"`
	Mine      bool     `json:"mine"` // the caller may vote (or decide)
	// Quorum is, for an approval with group quorums, each group's
	// minimum and the voters filling it.
	Quorum    []workflows.QuorumState `json:"quorum,omitempty"`
	Deciders  []string                `json:"deciders,omitempty"`
	Error     string                  `json:"error,omitempty"`
	ErrorType string                  `json:"errorType,omitempty"`
}

// The kinds of a waiting entry of GET /api/v1/approvals.
const (
	KindApproval = "approval"
	KindDecision = "decision"
)

// MaxSubRunbookDepth bounds how deep the approvals list looks into
// sub-runbooks (registration refuses cycles; this bounds the work).
const MaxSubRunbookDepth = 8

// MaxUnrecordedReads bounds the running runs without step records (just
// started: the syncer has not written their timeline yet) whose status
// one GET /api/v1/approvals asks Temporal for, newest first; the others
// are listed once the syncer has recorded them.
const MaxUnrecordedReads = 100

// listApprovals lists the approvals running runs wait for, those of their
// running sub-runbooks included; with mine=true, only those the caller may
// vote on. It answers from the records, in one query over the step
// records of every running run (no limit): what the syncer last wrote of
// each run (every SyncEvery), and, for a vote sent through the API, the
// run's timeline as of the vote's answer. Temporal is asked only for what
// the records cannot tell: the child runs of running sub-runbook steps
// (their timelines are not recorded), and runs not recorded yet (at most
// MaxUnrecordedReads).
func (a *API) listApprovals(c echo.Context) error {
	id := identity(c)
	mineOnly := c.QueryParam("mine") == "true"
	ctx := c.Request().Context()
	read, err := a.recordedWaiting()
	if err != nil {
		return err
	}
	// An entry is recorded (encoded with the read) or asked from Temporal.
	type entry struct {
		r     *store.Run
		rec   *recordedEntry
		asked *waitingApproval
	}
	// The records' entries come newest run first; a run's child runs'
	// entries take its place.
	entries := make([]entry, 0, len(read.entries))
	for _, e := range read.entries {
		if e.enc[0] != nil {
			entries = append(entries, entry{r: e.r, rec: e})
			continue
		}
		// A running sub-runbook step: its child run's own timeline.
		s := &e.w.step
		if ps := e.w.plan.Step(s.ID); ps != nil && ps.Runbook != nil && ps.Runbook.Plan != nil {
			for _, cw := range a.waitingIn(ctx, workflows.ChildID(e.r.ID, s.ID, s.Item), nil, ps.Runbook.Plan, 1) {
				entries = append(entries, entry{r: e.r, asked: &cw})
			}
		}
	}
	// Runs not recorded yet, newest first too: merged in.
	var fresh []entry
	plans := map[string]*plan.Plan{}
	for i := range read.unrecorded {
		r := &read.unrecorded[i]
		if read.runs[r.ID] {
			continue
		}
		p := a.planOf(plans, r)
		if p == nil {
			continue
		}
		for _, w := range a.waitingIn(ctx, r.ID, r, p, 0) {
			fresh = append(fresh, entry{r: r, asked: &w})
		}
	}
	newer := func(x, y *store.Run) bool { // x is listed before y
		c := x.CreatedAt.Compare(y.CreatedAt)
		return c > 0 || c == 0 && x.ID > y.ID
	}
	if len(fresh) > 0 {
		merged := make([]entry, 0, len(entries)+len(fresh))
		i, j := 0, 0
		for i < len(entries) || j < len(fresh) {
			if j == len(fresh) || i < len(entries) && newer(entries[i].r, fresh[j].r) {
				merged, i = append(merged, entries[i]), i+1
			} else {
				merged, j = append(merged, fresh[j]), j+1
			}
		}
		entries = merged
	}
	out := make([][]byte, 0, len(entries))
	for _, e := range entries {
		if e.rec != nil {
			if mine := mayAct(id, e.r, &e.rec.w); mine || !mineOnly {
				out = append(out, e.rec.enc[boolIndex(mine)])
			}
			continue
		}
		pa := pendingEntry(e.r, *e.asked)
		if pa.Mine = mayAct(id, e.r, e.asked); pa.Mine || !mineOnly {
			b, err := json.Marshal(pa)
			if err != nil {
				return err
			}
			out = append(out, b)
		}
	}
	return writeList(c, "approvals", out)
}

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}

// pendingEntry is a waiting entry of run r as the list shows it, Mine
// false.
func pendingEntry(r *store.Run, w waitingApproval) pendingApproval {
	s := w.step
	parent := ""
	if w.run != r.ID {
		parent = r.ID
	}
	if s.Status == workflows.StatusWaitingDecision {
		return pendingApproval{Kind: KindDecision, Run: w.run, Parent: parent, Runbook: w.plan.Name, Step: s.ID, Item: s.Item, Message: s.Message,
			Approvers: []string{}, Deciders: s.Deciders, Error: s.Error, ErrorType: s.ErrorType}
	}
	return pendingApproval{Kind: KindApproval, Run: w.run, Parent: parent, Runbook: w.plan.Name, Step: s.ID, Item: s.Item, Message: s.Message,
		Approvers: s.Approvers, Votes: len(s.Votes), Needed: s.MinApprovals, Quorum: s.Quorum}
}

// mayAct reports whether id may vote on a waiting entry of run r (or
// decide it): an approval not voted on by id, id among its approvers and
// not the run's starter (unless the step allows self-approval); a decision
// of an operator among its deciders (no deciders: any operator).
func mayAct(id *store.Identity, r *store.Run, w *waitingApproval) bool {
	s := &w.step
	if s.Status == workflows.StatusWaitingDecision {
		return id.Has("operator") && (len(s.Deciders) == 0 || eligibleVoter(s.Deciders, id.User, id.Groups))
	}
	for _, vote := range s.Votes {
		if vote.User == id.User {
			return false
		}
	}
	step := w.plan.Step(s.ID)
	self := id.User == r.Starter() && !(step != nil && step.Approval != nil && step.Approval.AllowSelfApproval)
	return eligibleVoter(s.Approvers, id.User, id.Groups) && !self
}

// waitingApproval is a timeline entry waiting for votes, in the workflow
// run of plan p.
type waitingApproval struct {
	run  string
	plan *plan.Plan
	step workflows.StepState
}

// waitingIn lists the approvals workflow id (running plan p; rec its
// record, nil for a sub-runbook run) waits for, and those of the
// sub-runbooks it runs. Runs Temporal closed without them are read from
// their description (liveStatus), never replayed; a run whose worker is
// slow to answer is read behind, as the records or its plan have it
// (viewStatus); a recorded run found ended is recorded so.
func (a *API) waitingIn(ctx context.Context, id string, rec *store.Run, p *plan.Plan, depth int) []waitingApproval {
	st, _, err := a.viewStatus(ctx, id, rec, p)
	if err == nil && rec != nil && workflows.Ended(st.Status) {
		_ = a.recordEnd(rec, st)
	}
	if err != nil || workflows.Ended(st.Status) {
		return nil
	}
	var out []waitingApproval
	for _, s := range st.Steps {
		switch {
		case s.Status == workflows.StatusWaitingApproval, s.Status == workflows.StatusWaitingDecision:
			out = append(out, waitingApproval{run: id, plan: p, step: s})
		case s.Status == workflows.StatusRunning && s.Kind == string(plan.StepRunbook) && depth < MaxSubRunbookDepth:
			if ps := p.Step(s.ID); ps != nil && ps.Runbook != nil && ps.Runbook.Plan != nil {
				out = append(out, a.waitingIn(ctx, workflows.ChildID(id, s.ID, s.Item), nil, ps.Runbook.Plan, depth+1)...)
			}
		}
	}
	return out
}

// planOf is a run's plan; plans caches them by runbook version.
func (a *API) planOf(plans map[string]*plan.Plan, r *store.Run) *plan.Plan {
	if len(r.Exceptions) > 0 { // a plan of its own
		p, _ := a.runPlan(r)
		return p
	}
	key := r.Runbook + "@" + strconv.Itoa(r.Version)
	p, ok := plans[key]
	if !ok {
		if v, err := a.Store.Runbook(r.Runbook, r.Version); err == nil {
			p, _ = v.PlanOf()
		}
		plans[key] = p
	}
	return p
}

// voteTarget resolves the workflow a vote on step goes to, sealed for it:
// the run id names a run's record, or a running sub-runbook run
// (<run>.<step>[.<item>]...) whose root is a recorded run. Through a
// record, an approval step its plan does not have but a sub-runbook's does
// goes to the running child run that holds it.
func (a *API) voteTarget(ctx context.Context, id, step string) (string, error) {
	r, err := a.Store.Run(id)
	if err == nil {
		p, err := a.runPlan(r)
		if err != nil {
			return "", err
		}
		return a.holder(ctx, id, p, step, 0)
	}
	root, _, child := strings.Cut(id, ".")
	if !child || !errors.Is(err, store.ErrNotFound) {
		return "", notFoundOr(err, "no run "+id)
	}
	if _, err = a.Store.Run(root); err != nil {
		return "", notFoundOr(err, "no run "+id)
	}
	// Its parents lead to the recorded run (whose own parent may be a
	// schedule's launcher).
	for cur, depth := id, 0; cur != root; depth++ {
		d, err := a.Temporal.DescribeWorkflowExecution(ctx, cur, "")
		var nf *serviceerror.NotFound
		switch {
		case errors.As(err, &nf):
			return "", problem(http.StatusNotFound, "no run "+id)
		case err != nil:
			return "", err
		}
		cur = d.WorkflowExecutionInfo.GetParentExecution().GetWorkflowId()
		if cur != root && !strings.HasPrefix(cur, root+".") || depth == MaxSubRunbookDepth {
			return "", problem(http.StatusNotFound, "no run "+id, "not a sub-runbook run of "+root)
		}
	}
	return id, nil
}

// holder is the workflow that holds approval step of run id (plan p): the
// run when p has the step (or no sub-runbook has it: the run then says it
// is not waiting), else the one running sub-runbook run whose plan has it.
func (a *API) holder(ctx context.Context, id string, p *plan.Plan, step string, depth int) (string, error) {
	if s := p.Step(step); s != nil && s.Approval != nil || depth == MaxSubRunbookDepth {
		return id, nil
	}
	subs := map[string]*plan.Plan{} // runbook step -> the plan it runs, when that has step
	p.Walk(func(s *plan.Step) bool {
		if s.Runbook != nil && s.Runbook.Plan != nil && hasApproval(s.Runbook.Plan, step, depth+1) {
			subs[s.ID] = s.Runbook.Plan
		}
		return true
	})
	if len(subs) == 0 {
		return id, nil
	}
	st, _, err := a.liveStatus(ctx, id)
	if err != nil {
		return id, nil // the Update answers for the run
	}
	var running []string
	var plans []*plan.Plan
	for _, e := range st.Steps {
		if cp := subs[e.ID]; cp != nil && e.Status == workflows.StatusRunning {
			running, plans = append(running, workflows.ChildID(id, e.ID, e.Item)), append(plans, cp)
		}
	}
	switch len(running) {
	case 0:
		return id, nil
	case 1:
		return a.holder(ctx, running[0], plans[0], step, depth+1)
	}
	return "", problem(http.StatusConflict, fmt.Sprintf("%d running sub-runbook runs have approval step %s: vote through one of them", len(running), step),
		map[string]any{"runs": running})
}

// hasApproval reports whether p, or a sub-runbook it runs, has approval
// step.
func hasApproval(p *plan.Plan, step string, depth int) bool {
	if s := p.Step(step); s != nil && s.Approval != nil {
		return true
	}
	found := false
	if depth < MaxSubRunbookDepth {
		p.Walk(func(s *plan.Step) bool {
			found = found || s.Runbook != nil && s.Runbook.Plan != nil && hasApproval(s.Runbook.Plan, step, depth+1)
			return !found
		})
	}
	return found
}

func eligibleVoter(approvers []string, user string, groups []string) bool {
	for _, a := range approvers {
		if g, ok := strings.CutPrefix(a, "group:"); ok && slices.Contains(groups, g) || a == user {
			return true
		}
	}
	return false
}

// withSeal is the vote as the Update's argument: the seal, which runs that
// verify seals decode, and the plain fields for runs started before seals.
func withSeal(vr workflows.VoteRequest, seal *attest.Seal) workflows.VoteRequest {
	vr.Seal = seal
	return vr
}
