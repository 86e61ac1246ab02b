package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/opsrunbook/runbook/plan"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opsrunbook/runbook/attest"
)

// VoteRequest is the argument of the approve Update. User and Groups come
// from the caller's authenticated token, never from a request body. The API
// sends only Seal: a SignedVote it signed, which the run verifies; a run
// started with a VoteKey refuses anything else.
type VoteRequest struct {
	Step     string            `json:"step"`
	Item     *int              `json:"item,omitempty"` // for approvals inside a forEach
	Decision plan.VoteDecision `json:"decision"`
	Comment  string            `json:"comment,omitempty"`
	User     string            `json:"user"`
	Groups   []string          `json:"groups,omitempty"`
	Inputs   map[string]any    `json:"inputs,omitempty"`
	Seal     *attest.Seal      `json:"seal,omitempty"`
}

// VoteResult is what the approve Update returns.
type VoteResult struct {
	Step      string        `json:"step"`
	Decision  plan.Decision `json:"decision"`
	Approvals int           `json:"approvals"`
	Needed    int           `json:"needed"`
}

// Reasons a vote is refused, as ApplicationError types; the API maps them
// to 403 and 409.
const (
	VoteNotApprover  = "NotApprover"  // 403
	VoteSelf         = "SelfApproval" // 403
	VoteAlreadyVoted = "AlreadyVoted" // 409
	VoteNotWaiting   = "NotWaiting"   // 409
	VoteInvalid      = "InvalidVote"  // 400
)

// approvalWait is an approval step waiting for votes.
type approvalWait struct {
	step      *plan.Step
	state     *StepState
	approvers []string
	escalated bool
	votes     []Vote
	decision  plan.Decision
	inputs    map[string]any
}

func approvalKey(step string, item *int) string {
	if item == nil {
		return step
	}
	return fmt.Sprintf("%s[%d]", step, *item)
}

// validateVote refuses, without touching state, a vote that may not count:
// unsealed, forged or replayed, or not allowed.
func (r *run) validateVote(ctx workflow.Context, req VoteRequest) error {
	req, err := r.checkVote(ctx, req)
	if err != nil {
		return err
	}
	w := r.approvals[approvalKey(req.Step, req.Item)]
	switch {
	case req.User == "":
		return temporal.NewApplicationError("the vote has no user", VoteInvalid)
	case req.Decision != plan.VoteApprove && req.Decision != plan.VoteReject:
		return temporal.NewApplicationError(fmt.Sprintf("decision %q: want approve or reject", req.Decision), VoteInvalid)
	case w == nil || w.decision != plan.DecisionPending:
		return temporal.NewApplicationError(fmt.Sprintf("step %s is not waiting for approval; %s", approvalKey(req.Step, req.Item), r.waiting()), VoteNotWaiting)
	case !eligible(w.approvers, req.User, req.Groups):
		return temporal.NewApplicationError(fmt.Sprintf("%s is not an approver of step %s", req.User, req.Step), VoteNotApprover)
	case req.Decision == plan.VoteApprove && req.User == r.startedBy() && !w.step.Approval.AllowSelfApproval:
		return temporal.NewApplicationError(fmt.Sprintf("%s started this run and may not approve it", req.User), VoteSelf)
	case slices.ContainsFunc(w.votes, func(v Vote) bool { return v.User == req.User }):
		return temporal.NewApplicationError(fmt.Sprintf("%s has already voted on step %s", req.User, req.Step), VoteAlreadyVoted)
	}
	if req.Decision == plan.VoteApprove {
		if _, err := bindInputs(w.step.Approval.Inputs, req.Inputs); err != nil {
			// The refusal's detail is its text without the values given,
			// for the audit trail. A validator's refusal is not in the
			// history: its wording may change without GetVersion.
			without := err.Error()
			var pe *plan.ParamError
			if errors.As(err, &pe) {
				without = pe.WithoutValues()
			}
			return temporal.NewApplicationError(err.Error(), VoteInvalid, without)
		}
	}
	return nil
}

// waiting says which approvals are waiting for votes, in key order.
func (r *run) waiting() string {
	var keys []string
	for _, k := range plan.SortedKeys(r.approvals) {
		if r.approvals[k].decision == plan.DecisionPending {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return "no step is waiting"
	}
	return "waiting: " + strings.Join(keys, ", ")
}

// eligible reports whether user, in groups, is a listed approver.
func eligible(approvers []string, user string, groups []string) bool {
	for _, a := range approvers {
		if g, ok := strings.CutPrefix(a, "group:"); ok {
			if slices.Contains(groups, g) {
				return true
			}
		} else if a == user {
			return true
		}
	}
	return false
}

func bindInputs(decl []plan.Param, given map[string]any) (map[string]any, error) {
	if len(decl) == 0 {
		if len(given) > 0 {
			return nil, fmt.Errorf("this approval takes no inputs")
		}
		return map[string]any{}, nil
	}
	return plan.BindInputs(decl, given)
}

// vote records a validated vote: one reject rejects, minApprovals
// distinct approvals approve.
func (r *run) vote(ctx workflow.Context, req VoteRequest) (VoteResult, error) {
	req = r.acceptVote(ctx, req)
	w := r.approvals[approvalKey(req.Step, req.Item)]
	v := Vote{User: req.User, Decision: req.Decision, Comment: req.Comment, At: workflow.Now(ctx)}
	quorum := w.step.Approval.Quorum
	if len(quorum) > 0 {
		v.Groups = req.Groups
	}
	if req.Decision == plan.VoteApprove {
		inputs, _ := bindInputs(w.step.Approval.Inputs, req.Inputs)
		v.Inputs = inputs
		w.inputs = inputs
	}
	w.votes = append(w.votes, v)
	w.state.Votes = append(w.state.Votes, v)
	approvals := 0
	for _, x := range w.votes {
		if x.Decision == plan.VoteApprove {
			approvals++
		}
	}
	met := true
	if len(quorum) > 0 {
		w.state.Quorum, met = quorumOf(quorum, w.votes)
	}
	switch {
	case req.Decision == plan.VoteReject:
		w.decision = plan.DecisionRejected
	case approvals >= w.step.Approval.MinApprovals && met:
		w.decision = plan.DecisionApproved
	}
	return VoteResult{Step: req.Step, Decision: w.decision, Approvals: approvals, Needed: w.step.Approval.MinApprovals}, nil
}

// approval waits for votes, announcing the wait and reminding if asked.
func (r *run) approval(ctx workflow.Context, sc *scope, s *plan.Step, st *StepState) error {
	a := s.Approval
	vars := r.vars(sc)
	approvers := a.Approvers
	if a.ApproversExpr != nil {
		x, err := r.ev.Eval(a.ApproversExpr, vars)
		if err != nil {
			return &stepError{step: s.ID, typ: ErrExpression, message: "approvers: " + err.Error()}
		}
		approvers = approverList(x)
	}
	if len(approvers) == 0 {
		return &stepError{step: s.ID, typ: ErrNoApprovers, message: "the approval has no approvers"}
	}
	if a.Message != nil {
		if x, err := r.ev.Render(a.Message, vars); err == nil {
			st.Message = plan.Text(x)
		}
	}
	timeout, err := r.ev.Duration(a.Timeout, vars)
	if err != nil {
		return &stepError{step: s.ID, typ: ErrExpression, message: err.Error()}
	}
	w := &approvalWait{step: s, state: st, approvers: approvers, decision: plan.DecisionPending}
	key := approvalKey(s.ID, st.Item)
	r.approvals[key] = w
	st.Status, st.Approvers, st.MinApprovals = StatusWaitingApproval, approvers, a.MinApprovals
	if len(a.Quorum) > 0 {
		st.Quorum, _ = quorumOf(a.Quorum, nil)
	}
	stopReminders := r.announce(ctx, sc, s, s.Approval.Notify, s.Approval.RemindEvery, "approval", ApprovalPath(r.status.RunID, s.ID, st.Item),
		func() bool { return w.decision == plan.DecisionPending })
	defer stopReminders()
	decided := func() bool { return w.decision != plan.DecisionPending }
	for {
		var err error
		if timeout > 0 {
			var ok bool
			ok, err = workflow.AwaitWithTimeout(ctx, timeout, decided)
			if err == nil && !ok {
				if a.OnTimeout == plan.ApprovalTimeoutEscalate && !w.escalated {
					w.escalated = true
					w.approvers = append(slices.Clone(w.approvers), a.EscalateTo...)
					st.Approvers = w.approvers
					continue
				}
				w.decision = plan.DecisionRejected
				st.Outputs = approvalOutputs(w)
				return &stepError{step: s.ID, typ: ErrApprovalTimeout, message: fmt.Sprintf("no decision within %s", time.Duration(timeout))}
			}
		} else {
			err = workflow.Await(ctx, decided)
		}
		if err != nil {
			w.decision = plan.DecisionRejected
			return err
		}
		break
	}
	st.Outputs = approvalOutputs(w)
	if w.decision == plan.DecisionRejected {
		msg := "rejected by " + lastRejecter(w)
		if workflow.GetVersion(ctx, rejectionVersion, workflow.DefaultVersion, 1) >= 1 {
			msg = rejection(key, w)
		}
		return &stepError{step: s.ID, typ: ErrApprovalReject, message: msg}
	}
	return nil
}

// rejectionVersion guards the rejection message with its comments: it is
// error.message to onFailure, so runs recorded before keep the old one.
const rejectionVersion = "rejection-comment"

// rejection says who rejected approval key and why: `approval "gate"
// rejected by ann: freeze week`; without a comment `... rejected by ann`;
// several rejecters (none today: the first reject decides) joined by "; ".
// A comment is put on one line.
func rejection(key string, w *approvalWait) string {
	var by []string
	for _, v := range w.votes {
		if v.Decision != plan.VoteReject {
			continue
		}
		who := v.User
		if c := strings.Join(strings.Fields(v.Comment), " "); c != "" {
			who += ": " + c
		}
		by = append(by, who)
	}
	if len(by) == 0 {
		by = []string{"nobody"}
	}
	return fmt.Sprintf("approval %q rejected by %s", key, strings.Join(by, "; "))
}

func approvalOutputs(w *approvalWait) map[string]any {
	res := plan.ApprovalResult{Decision: w.decision, Inputs: w.inputs}
	for _, v := range w.votes {
		res.Votes = append(res.Votes, plan.ApprovalVote{User: v.User, Decision: v.Decision, Comment: v.Comment, At: v.At})
	}
	return res.Outputs()
}

func lastRejecter(w *approvalWait) string {
	for i := len(w.votes) - 1; i >= 0; i-- {
		if w.votes[i].Decision == plan.VoteReject {
			return w.votes[i].User
		}
	}
	return "nobody"
}

// announce sends a wait's notification (an approval's, a decision's), and
// reminders every remindEvery while waiting says so. It returns a
// function that stops them.
func (r *run) announce(ctx workflow.Context, sc *scope, s *plan.Step, notify map[string]*plan.Value, remindEvery plan.Duration, what, link string, waiting func() bool) func() {
	if notify == nil {
		return func() {}
	}
	if workflow.GetVersion(ctx, announceLinkVersion, workflow.DefaultVersion, 1) < 1 {
		link = "" // runs started before announcements carried their page
	}
	nctx, cancel := workflow.WithCancel(ctx)
	every, err := r.ev.Duration(remindEvery, r.vars(sc))
	if err != nil {
		r.logger(ctx).Warn("remindEvery", "step", s.ID, "error", err)
	}
	workflow.Go(nctx, func(c workflow.Context) {
		actx := workflow.WithActivityOptions(c, workflow.ActivityOptions{StartToCloseTimeout: time.Minute,
			RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 3}})
		for waiting() {
			scratch := &StepState{}
			if _, err := r.runLinked(actx, sc, s, "notify", plan.ActionFacts{}, notify, scratch, link); err != nil && c.Err() == nil {
				r.logger(c).Warn(what+" notification failed", "step", s.ID, "error", err)
			}
			if every <= 0 || workflow.Sleep(c, every) != nil {
				return
			}
		}
	})
	return cancel
}
