package server

import (
	"context"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/opsrunbook/runbook/workflows"
)

// cachedStatus is a running run's status as of a history length.
type cachedStatus struct {
	length int64
	status *workflows.Status
}

// liveStatus returns a run's status from Temporal. A status query runs
// the workflow on a worker (often a replay); describing the run does not,
// so the run is described first and asked only when its history grew
// since it was last asked: a status is a function of the history. It
// returns the history length the status is of. Only running runs are
// cached; callers must not modify the status.
func (a *API) liveStatus(ctx context.Context, id string) (st *workflows.Status, length int64, err error) {
	d, err := a.Temporal.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return nil, 0, err
	}
	length = d.WorkflowExecutionInfo.HistoryLength
	if c, ok := a.statuses.Load(id); ok && c.(cachedStatus).length == length {
		return c.(cachedStatus).status, length, nil
	}
	statusQueries.Inc()
	v, err := a.Temporal.QueryWorkflow(ctx, id, "", workflows.QueryStatus)
	if err != nil {
		if info := d.WorkflowExecutionInfo; info.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			// Ended, and cannot be asked (no worker can replay it): how it
			// ended is known, its timeline is not.
			return &workflows.Status{RunID: id, Status: closedStatus(info.Status)}, length, nil
		}
		return nil, 0, err
	}
	st = &workflows.Status{}
	if err := v.Get(st); err != nil {
		return nil, 0, err
	}
	if info := d.WorkflowExecutionInfo; info.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING && st.Status == workflows.RunRunning {
		// Terminated (or timed out): the workflow never wrote its end, so
		// its timeline still says running; Temporal knows how it ended.
		st.Status = closedStatus(info.Status)
		st.ErrorType, st.Error = closedType(info.Status)
		if info.CloseTime != nil {
			at := info.CloseTime.AsTime().UTC()
			st.EndedAt = &at
		}
	}
	if d.WorkflowExecutionInfo.Status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING && st.Status == workflows.RunRunning {
		a.statuses.Store(id, cachedStatus{length, st})
	} else {
		a.statuses.Delete(id)
	}
	return st, length, nil
}

// closedType is the error type and message of a run that Temporal ended
// without the workflow's own ending.
func closedType(s enumspb.WorkflowExecutionStatus) (typ, message string) {
	switch s {
	case enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:
		return "Terminated", "terminated in Temporal"
	case enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		return "TimedOut", "timed out in Temporal"
	}
	return "", ""
}
