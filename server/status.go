package server

import (
	"context"

	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"

	"github.com/opsrunbook/runbook/workflows"
)

// Error types of runs Temporal closed without the run ending itself.
const (
	ErrTerminated = "Terminated" // terminated: by an operator, or at Temporal's history limits
	ErrTimedOut   = "TimedOut"   // past a workflow execution or run timeout
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
// cached; callers must not modify the status. A run Temporal closed
// without it (terminated, timed out) is never asked: its workflow never
// saw its end, so a replay would say running, at the cost of its whole
// history; it is failed, as its close event says.
func (a *API) liveStatus(ctx context.Context, id string) (st *workflows.Status, length int64, err error) {
	d, err := a.Temporal.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return nil, 0, err
	}
	length = d.WorkflowExecutionInfo.HistoryLength
	if st, err := a.closedWithout(ctx, id, d.WorkflowExecutionInfo); st != nil || err != nil {
		a.statuses.Delete(id)
		return st, length, err
	}
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
	if d.WorkflowExecutionInfo.Status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING && st.Status == workflows.RunRunning {
		a.statuses.Store(id, cachedStatus{length, st})
	} else {
		a.statuses.Delete(id)
	}
	return st, length, nil
}

// closedWithout returns the status of a run Temporal terminated or timed
// out, from its description and close event; nil for any other run.
func (a *API) closedWithout(ctx context.Context, id string, info *workflowpb.WorkflowExecutionInfo) (*workflows.Status, error) {
	end := info.GetCloseTime().AsTime().UTC()
	st := &workflows.Status{RunID: id, Status: workflows.RunFailed, StartedAt: info.GetStartTime().AsTime().UTC(), EndedAt: &end}
	switch info.GetStatus() {
	case enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:
		st.ErrorType, st.Error = ErrTerminated, "the run was terminated in Temporal"
		it := a.Temporal.GetWorkflowHistory(ctx, id, info.GetExecution().GetRunId(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT)
		if !it.HasNext() {
			return st, nil
		}
		ev, err := it.Next()
		if err != nil {
			return nil, err
		}
		if t := ev.GetWorkflowExecutionTerminatedEventAttributes(); t != nil && t.GetReason() != "" {
			st.Error += ": " + t.GetReason()
		}
	case enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		st.ErrorType, st.Error = ErrTimedOut, "the run passed its Temporal execution timeout"
	default:
		return nil, nil
	}
	return st, nil
}
