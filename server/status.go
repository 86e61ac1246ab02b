package server

import (
	"context"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/workflows"
)

// Error types of runs Temporal closed without the run ending itself.
const (
	ErrTerminated = "Terminated" // terminated: by an operator, or at Temporal's history limits
	ErrTimedOut   = "TimedOut"   // past a workflow execution or run timeout
)

// cachedStatus is a running run's status as of one execution's history
// length (a run that handed over to a new execution starts a new history).
type cachedStatus struct {
	execution string
	length    int64
	status    *workflows.Status
}

// liveStatus returns a run's status with its whole timeline from Temporal,
// read in pages so that no query result nears Temporal's 2 MB payload limit.
// A status query runs the workflow on a worker (often a replay); describing
// the run does not, so the run is described first and asked only when its
// history grew since it was last asked: a status is a function of the
// history. It returns the history length the status is of. Only running
// runs are cached; callers must not modify the status.
// A run Temporal closed without it (terminated, timed out) is never
// asked: its workflow never saw its end, so a replay would say running,
// at the cost of its whole history; it is failed, as its close event says.
func (a *API) liveStatus(ctx context.Context, id string) (st *workflows.Status, length int64, err error) {
	d, err := a.Temporal.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return nil, 0, err
	}
	info := d.WorkflowExecutionInfo
	length, execution := info.HistoryLength, info.Execution.GetRunId()
	if st, err := a.closedWithout(ctx, id, info); st != nil || err != nil {
		a.statuses.Delete(id)
		return st, length, err
	}
	if c, ok := a.statuses.Load(id); ok && c.(cachedStatus).length == length && c.(cachedStatus).execution == execution {
		return c.(cachedStatus).status, length, nil
	}
	page := workflows.StatusPage{Limit: workflows.MaxStepsLimit}
	for {
		p, err := a.queryStatus(ctx, id, execution, info, page)
		if err != nil {
			return nil, 0, err
		}
		if st == nil {
			st = p
		} else {
			st.Steps = append(st.Steps, p.Steps...)
		}
		page.Offset = p.StepsOffset + len(p.Steps)
		if len(p.Steps) == 0 || page.Offset >= p.StepsTotal {
			break
		}
	}
	st.StepsOffset = 0
	if info.Status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING && !workflows.Ended(st.Status) {
		a.statuses.Store(id, cachedStatus{execution, length, st})
	} else {
		a.statuses.Delete(id)
	}
	return st, length, nil
}

// DefaultQueryTimeout bounds a status query when API.QueryTimeout is 0: the
// SDK's own bound of a call. A query of a closed run replays its last
// execution on a worker; one that takes longer, or that no worker takes,
// fails, and the run's timeline is then not known (never recorded, or
// kept, as if it were empty).
const DefaultQueryTimeout = 10 * time.Second

// StaleAfter is how long a view of a running run waits for the worker
// before it answers with a stale status (staleStatus). A worker answers a
// query between workflow tasks; a loop of local actions keeps a task open
// for seconds.
const StaleAfter = 150 * time.Millisecond

// liveStatusPage returns a run's status with one page of its timeline.
// When the worker is slow to answer for a running run, a stale status
// answers (stale is true), and the run is read behind.
func (a *API) liveStatusPage(ctx context.Context, r *store.Run, page workflows.StatusPage) (_ *workflows.Status, stale bool, _ error) {
	id := r.ID
	d, err := a.Temporal.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return nil, false, err
	}
	info := d.WorkflowExecutionInfo
	if c, ok := a.statuses.Load(id); ok && c.(cachedStatus).length == info.HistoryLength && c.(cachedStatus).execution == info.Execution.GetRunId() {
		return pageOf(c.(cachedStatus).status, page), false, nil
	}
	if info.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		if st, err := a.closedWithout(ctx, id, info); st != nil || err != nil {
			return st, false, err
		}
		// A closed run's status never changes: its pages are kept.
		key := closedPage{info.Execution.GetRunId(), page}
		if st, ok := a.closedPages.Load(key); ok {
			return st.(*workflows.Status), false, nil
		}
		st, err := a.queryStatus(ctx, id, info.Execution.GetRunId(), info, page)
		// Only a page the run told is kept: a closed run no worker
		// answered for in time is asked again by the next read.
		if err == nil && workflows.Ended(st.Status) && st.StepsTotal > 0 {
			if a.closedCount.Add(1) > MaxClosedPages { // forget them all, rarely
				a.closedPages.Clear()
				a.closedCount.Store(1)
			}
			a.closedPages.Store(key, st)
		}
		return st, false, err
	}
	type answer struct {
		st  *workflows.Status
		err error
	}
	got := make(chan answer, 1)
	go func() {
		st, err := a.queryStatus(context.WithoutCancel(ctx), id, info.Execution.GetRunId(), info, page)
		got <- answer{st, err}
	}()
	select {
	case ans := <-got:
		return ans.st, false, ans.err
	case <-time.After(StaleAfter):
		a.readBehind(ctx, id)
		return pageOf(a.staleStatus(id, info, r, nil), page), true, nil
	}
}

// viewStatus is a run's whole status for a view (its event stream, the
// approvals list): Temporal's, or, when the worker does not answer for a
// running run within StaleAfter, a stale one (stale is true) while the run
// is read behind. rec is the run's record (nil for a sub-runbook run), p
// its plan (nil: rec's version's).
func (a *API) viewStatus(ctx context.Context, id string, rec *store.Run, p *plan.Plan) (_ *workflows.Status, stale bool, _ error) {
	d, err := a.Temporal.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return nil, false, err
	}
	info := d.WorkflowExecutionInfo
	if info.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		st, _, err := a.liveStatus(ctx, id) // never stale: a closed run's end is recorded from it
		return st, false, err
	}
	f := a.readBehind(ctx, id)
	select {
	case <-f.done:
		return f.st, false, f.err
	case <-ctx.Done():
		return nil, false, ctx.Err()
	case <-time.After(StaleAfter):
		return a.staleStatus(id, info, rec, p), true, nil
	}
}

// staleStatus is what a view shows of a running run whose worker is slow
// to answer: the status last read, else the timeline the records syncer
// last wrote, else the timeline the run starts with (every step of its
// plan pending: workflows.Declared).
func (a *API) staleStatus(id string, info *workflowpb.WorkflowExecutionInfo, rec *store.Run, p *plan.Plan) *workflows.Status {
	if c, ok := a.statuses.Load(id); ok {
		st := *c.(cachedStatus).status
		return &st
	}
	st := &workflows.Status{RunID: id, Status: workflows.RunRunning, StartedAt: info.GetStartTime().AsTime().UTC()}
	if rec != nil {
		st.Runbook, st.StartedAt, st.Handovers = rec.Runbook, rec.CreatedAt.UTC(), rec.Handovers
		st.Steps = a.recordedSteps(id)
		if p == nil {
			p, _ = a.runPlan(rec)
		}
	}
	if len(st.Steps) == 0 && p != nil {
		st.Runbook, st.Steps = p.Name, workflows.Declared(p)
	}
	st.StepsTotal = len(st.Steps)
	return st
}

// flight is one read of a run's whole status; done closes when it ends.
type flight struct {
	done chan struct{}
	st   *workflows.Status
	err  error
}

// readBehind reads a running run's whole status behind the request, one
// read at a time per run, for the reads that follow; it returns the read
// under way.
func (a *API) readBehind(ctx context.Context, id string) *flight {
	f := &flight{done: make(chan struct{})}
	if cur, busy := a.refreshing.LoadOrStore(id, f); busy {
		return cur.(*flight)
	}
	go func() {
		defer close(f.done)
		defer a.refreshing.Delete(id)
		f.st, _, f.err = a.liveStatus(context.WithoutCancel(ctx), id)
	}()
	return f
}

// MaxClosedPages bounds the pages of closed runs' timelines kept in memory
// (each at most workflows.MaxStepsLimit entries).
const MaxClosedPages = 256

// closedPage is a page of a closed execution's timeline.
type closedPage struct {
	execution string
	page      workflows.StatusPage
}

// pageOf cuts a page from a whole status.
func pageOf(whole *workflows.Status, page workflows.StatusPage) *workflows.Status {
	st := *whole
	from := min(max(page.Offset, 0), len(st.Steps))
	limit := page.Limit
	if limit <= 0 {
		limit = workflows.DefaultStepsLimit
	}
	st.Steps, st.StepsOffset = st.Steps[from:min(from+min(limit, workflows.MaxStepsLimit), len(st.Steps))], from
	return &st
}

// queryStatus asks the run's current execution for a page of its status.
// Each query is bounded by QueryTimeout.
func (a *API) queryStatus(ctx context.Context, id, execution string, info *workflowpb.WorkflowExecutionInfo, page workflows.StatusPage) (*workflows.Status, error) {
	status := info.GetStatus()
	statusQueries.Inc()
	timeout := a.QueryTimeout
	if timeout <= 0 {
		timeout = DefaultQueryTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	v, err := a.Temporal.QueryWorkflow(ctx, id, execution, workflows.QueryStatus, page)
	if err != nil {
		if status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			// Ended, and cannot be asked (no worker can replay it): how and
			// when it ended are known, its timeline is not.
			st := &workflows.Status{RunID: id, Status: closedStatus(status), StartedAt: info.GetStartTime().AsTime().UTC()}
			if info.GetCloseTime() != nil {
				end := info.GetCloseTime().AsTime().UTC()
				st.EndedAt = &end
			}
			return st, nil // no StepsTotal: see hasTimeline
		}
		return nil, err
	}
	st := &workflows.Status{}
	if err := v.Get(st); err != nil {
		return nil, err
	}
	settle(st)
	return st, nil
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
