package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
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

type decisionRequest struct {
	Action  plan.DecisionAction `json:"action"`
	Comment string              `json:"comment"`
	Item    *int                `json:"item"`
	Outputs map[string]any      `json:"outputs"`
	Inputs  map[string]any      `json:"inputs"`
}

// decisionStatus maps the run's refusals of a decision to HTTP.
var decisionStatus = map[string]int{
	workflows.DecisionNotWaiting: http.StatusConflict,
	workflows.DecisionNotDecider: http.StatusForbidden,
	workflows.DecisionInvalid:    http.StatusUnprocessableEntity,
	workflows.SealMissing:        http.StatusForbidden,
	workflows.SealForged:         http.StatusForbidden,
	workflows.SealReplayed:       http.StatusConflict,
}

// decide sends a decision on a step that failed under onStepFailure: ask,
// as the caller, sealed like a vote. It answers with the step's timeline
// entry once the run acted on it. Every outcome is audited.
func (a *API) decide(c echo.Context) error {
	ctx := c.Request().Context()
	id := identity(c)
	step, item, err := decisionStep(c.Param("step"))
	var req decisionRequest
	if err == nil {
		err = decodeBody(c, &req, false)
	}
	if err == nil {
		item, err = sameItem(step, item, req.Item)
	}
	if err == nil {
		err = capSize("comment", len(req.Comment), MaxComment)
	}
	if err == nil {
		err = capJSON("outputs", req.Outputs, MaxVoteInputs)
	}
	if err == nil {
		err = capJSON("inputs", req.Inputs, MaxVoteInputs)
	}
	wf := c.Param("id")
	if err == nil {
		wf, err = a.voteTarget(ctx, wf, step)
	}
	run, runbook := a.auditScope(wf)
	audit := func(answer error, code string) error {
		d := store.DecisionDetail{Step: step, Item: item, Action: string(req.Action), Comment: req.Comment, Code: code}
		rec := store.AuditRecord{Actor: id.User, Action: store.ActionStepDecision, Target: wf + "/" + step, Run: run, Runbook: runbook, Detail: d}
		if answer != nil {
			reason, status, _ := refusal(answer)
			rec.Refused, d.Status = reason, status
			rec.Detail = d
		}
		if aerr := a.Store.Append(rec); aerr != nil {
			return aerr
		}
		return answer
	}
	if err != nil {
		if _, _, ok := refusal(err); ok && runbook != "" {
			return audit(err, "")
		}
		return err
	}
	if err := a.checkDecision(ctx, wf, step, req); err != nil {
		return audit(err, "")
	}
	if status, over := a.endedRun(ctx, wf); over {
		return audit(ended(wf, status), "")
	}
	signer, err := a.signer()
	if err != nil {
		return err
	}
	dr := workflows.DecisionRequest{Step: step, Item: item, Action: req.Action, Comment: req.Comment,
		User: id.User, Groups: id.Groups, Outputs: req.Outputs, Inputs: req.Inputs}
	body := &workflows.SignedDecision{DecisionRequest: dr}
	if dr.Seal, err = signer.Seal(attest.KindDecision, wf, timeNow(), body); err != nil {
		return err
	}
	// As a vote: once sent, the answer and the audit entry do not depend
	// on the caller still waiting.
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), VoteWait)
	defer cancel()
	h, err := a.Temporal.UpdateWorkflow(uctx, client.UpdateWorkflowOptions{WorkflowID: wf, UpdateName: workflows.UpdateDecide,
		Args: []any{dr}, WaitForStage: client.WorkflowUpdateStageCompleted})
	var res workflows.StepState
	if err == nil {
		err = h.Get(uctx, &res)
	}
	if err == nil {
		if aerr := audit(nil, ""); aerr != nil {
			return aerr
		}
		a.recordVoted(uctx, wf) // the approvals list no longer shows it
		return c.JSON(http.StatusOK, res)
	}
	var app *temporal.ApplicationError
	var nf *serviceerror.NotFound
	if !errors.As(err, &app) && !errors.As(err, &nf) {
		return problem(http.StatusServiceUnavailable, "the decision was sent but the run did not answer: "+err.Error(), map[string]string{"run": wf})
	}
	if status, over := a.endedRun(uctx, wf); over {
		return audit(ended(wf, status), "")
	}
	if app == nil {
		return audit(problem(http.StatusConflict, "the run does not take decisions: "+err.Error()), "")
	}
	status, ok := decisionStatus[app.Type()]
	if !ok {
		return audit(problem(http.StatusConflict, "the run does not take decisions: "+app.Message()), "")
	}
	details := []any{map[string]string{"reason": app.Type()}}
	var probs []string
	if app.HasDetails() && app.Details(&probs) == nil {
		for _, p := range probs {
			details = append(details, p)
		}
	}
	return audit(problem(status, app.Message(), details...), app.Type())
}

// decisionStep reads :step, an id or id[item] as the logs routes take it.
func decisionStep(ref string) (string, *int, error) {
	ref, err := url.PathUnescape(ref)
	m := stepRef.FindStringSubmatch(ref)
	if err != nil || m == nil {
		return "", nil, problem(http.StatusBadRequest, fmt.Sprintf("step: %q is not a step id or step[item]", ref))
	}
	if m[2] == "" {
		return m[1], nil, nil
	}
	n, err := strconv.ParseInt(m[2], 10, 64)
	if err != nil || n > math.MaxInt32 {
		return "", nil, problem(http.StatusBadRequest, fmt.Sprintf("step: item %s of %s must be a whole number from 0 to %d", m[2], ref, math.MaxInt32))
	}
	i := int(n)
	return m[1], &i, nil
}

// sameItem is the item a decision names, in the path or the body.
func sameItem(step string, path, body *int) (*int, error) {
	switch {
	case path == nil:
		return body, nil
	case body != nil && *body != *path:
		return nil, problem(http.StatusBadRequest, fmt.Sprintf("step: %s[%d] and item %d name different items", step, *path, *body))
	}
	return path, nil
}

// checkDecision refuses, before anything is sent, a decision the run's
// plan shows to be wrong: an unknown action or step, outputs that do not
// fit the step's declared outputs, inputs its action does not take or of
// the wrong type (the run holds no action specs; the API does). A
// sub-runbook run's steps are checked by the run alone.
func (a *API) checkDecision(ctx context.Context, wf, step string, req decisionRequest) error {
	if !slices.Contains(plan.DecisionActions, req.Action) {
		return problem(http.StatusUnprocessableEntity, fmt.Sprintf("action %q: want retry, skip or fail", req.Action),
			map[string]string{"reason": workflows.DecisionInvalid})
	}
	r, err := a.Store.Run(wf)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	p := a.planOf(map[string]*plan.Plan{}, r)
	if p == nil {
		return nil
	}
	s := p.Step(step)
	if s == nil {
		return problem(http.StatusNotFound, fmt.Sprintf("runbook %s version %d has no step %s", r.Runbook, r.Version, step),
			"GET /api/v1/runs/"+wf+" lists the run's steps")
	}
	probs := workflows.DecisionProblems(s, req.Action, req.Outputs, req.Inputs)
	if len(probs) == 0 && len(req.Inputs) > 0 {
		probs = a.inputProblems(s, req.Inputs)
	}
	if len(probs) == 0 {
		return nil
	}
	details := []any{map[string]string{"reason": workflows.DecisionInvalid}}
	for _, p := range probs {
		details = append(details, p)
	}
	return problem(http.StatusUnprocessableEntity, "the decision does not fit step "+step+": "+strings.Join(probs, "; "), details...)
}

// inputProblems checks a retry's inputs against the action's input spec.
func (a *API) inputProblems(s *plan.Step, inputs map[string]any) []string {
	if a.Catalog == nil {
		return nil
	}
	spec, ok := a.Catalog.Action(s.Action)
	if !ok {
		return nil
	}
	var out []string
	for _, k := range plan.SortedKeys(inputs) {
		i := slices.IndexFunc(spec.Inputs, func(f plan.Field) bool { return f.Name == k })
		if i < 0 {
			out = append(out, fmt.Sprintf("inputs.%s: action %s has no input %q", k, s.Action, k))
			continue
		}
		var probs []plan.ValueProblem
		plan.CoerceProblems(inputs[k], spec.Inputs[i].Type, plan.Path("inputs").Key(k), &probs)
		for _, p := range probs {
			out = append(out, string(p.Sub)+": "+p.Msg)
		}
	}
	return out
}
