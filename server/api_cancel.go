package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"

	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/workflows"
)

// MaxCancelReason bounds a cancel's reason, in bytes.
const MaxCancelReason = 1024

type cancelRequest struct {
	Reason string `json:"reason"`
}

// cancelRun asks a running run to cancel, as the caller, with an optional
// reason; the cancel is audited with it. A refused cancel (a run that has
// ended: 409) records nothing but the refusal.
//
// The entry is appended before the cancel is sent, not after: a cancel
// cannot be taken back, an entry can be followed by another. Recorded
// first, every cancel the run receives has its entry (a trail that cannot
// take it means no cancel is sent); if the send then fails, a refused
// entry follows with why.
func (a *API) cancelRun(c echo.Context) error {
	r, err := a.Store.Run(c.Param("id"))
	if err != nil {
		return notFoundOr(err, "no run "+c.Param("id"))
	}
	var req cancelRequest
	err = decodeBody(c, &req, true)
	if err == nil && len(req.Reason) > MaxCancelReason {
		err = problem(http.StatusUnprocessableEntity, fmt.Sprintf("reason is %d bytes; at most %d", len(req.Reason), MaxCancelReason),
			map[string]any{"field": "reason", "size": len(req.Reason), "limit": MaxCancelReason})
		req.Reason = ""
	}
	if err == nil {
		err = a.cancellable(c.Request().Context(), r)
	}
	entry := store.AuditRecord{Actor: identity(c).User, Action: store.ActionRunCancel, Target: r.ID, Run: r.ID, Runbook: r.Runbook}
	if reason, status, ok := refusal(err); ok {
		entry.Refused, entry.Detail = reason, store.CancelDetail{Reason: req.Reason, Status: status}
		a.appendRefusal(c, entry)
		return err
	}
	if err != nil {
		return err
	}
	entry.Detail = store.CancelDetail{Reason: req.Reason}
	if err := a.Store.Append(entry); err != nil {
		return err
	}
	// Sent, the cancel is seen through whatever the caller does.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request().Context()), VoteWait)
	defer cancel()
	if err := a.sendCancel(ctx, r); err != nil {
		reason, status, ok := refusal(err)
		if !ok {
			reason, status = "the cancel did not reach the run: "+err.Error(), http.StatusServiceUnavailable
		}
		entry.Refused, entry.Detail = reason, store.CancelDetail{Reason: req.Reason, Status: status}
		a.appendRefusal(c, entry)
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]string{"run": r.ID, "status": "cancelling"})
}

// cancellable answers 409 for a run that is not running. Temporal accepts
// a cancel request for a closed workflow and drops it: ask first, and
// look again after (sendCancel).
func (a *API) cancellable(ctx context.Context, r *store.Run) error {
	d, err := a.Temporal.DescribeWorkflowExecution(ctx, r.ID, "")
	var nf *serviceerror.NotFound
	switch {
	case errors.As(err, &nf):
		return notInTemporal(r)
	case err != nil:
		return err
	case d.WorkflowExecutionInfo.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		return ended(r.ID, closedStatus(d.WorkflowExecutionInfo.Status))
	}
	return nil
}

// sendCancel sends the cancel request to a run found running.
func (a *API) sendCancel(ctx context.Context, r *store.Run) error {
	var nf *serviceerror.NotFound
	if err := a.Temporal.CancelWorkflow(ctx, r.ID, ""); err != nil {
		if errors.As(err, &nf) {
			return notInTemporal(r)
		}
		return err
	}
	// The run may have ended between the two calls, and Temporal drops a
	// cancel for a closed run without a word. A run still running holds
	// the request in its history; one cancelled took it.
	if d, err := a.Temporal.DescribeWorkflowExecution(ctx, r.ID, ""); err == nil {
		if st := d.WorkflowExecutionInfo.Status; st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING && st != enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED {
			return ended(r.ID, closedStatus(st))
		}
	}
	return nil
}

// VoteWait bounds how long the API waits for the run to answer a vote
// (or an event) it has sent, whether or not the caller still waits.
const VoteWait = 30 * time.Second

// endedRun reports whether workflow wf has ended, and its status: closed
// in Temporal, or past its retention with a record that has ended.
func (a *API) endedRun(ctx context.Context, wf string) (string, bool) {
	d, err := a.Temporal.DescribeWorkflowExecution(ctx, wf, "")
	var nf *serviceerror.NotFound
	switch {
	case errors.As(err, &nf):
		root, _, _ := strings.Cut(wf, ".")
		if r, err := a.Store.Run(root); err == nil && workflows.Ended(r.Status) {
			return r.Status, true
		}
		return "", false
	case err != nil:
		return "", false
	}
	if st := d.WorkflowExecutionInfo.Status; st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return closedStatus(st), true
	}
	return "", false
}

// ended is the answer to cancelling a run that has ended.
func ended(run, status string) error {
	return problem(http.StatusConflict, fmt.Sprintf("run %s has already ended: %s", run, status))
}

// notInTemporal answers a cancel of a run Temporal does not know: ended
// (past Temporal's retention) as its record says, or never started.
func notInTemporal(r *store.Run) error {
	if workflows.Ended(r.Status) {
		return ended(r.ID, r.Status)
	}
	return problem(http.StatusConflict, fmt.Sprintf("run %s is recorded but Temporal does not know it", r.ID),
		"a run whose start did not reach Temporal is marked failed within a minute")
}
