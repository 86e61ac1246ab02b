package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"sync"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/workflows"
)

// SyncEvery is how often Sync brings the records up to date.
const SyncEvery = 2 * time.Second

// Sync keeps the records current until ctx ends: the timeline and status
// of every running run, and records for runs that schedules started. The
// records then outlive Temporal's retention.
func (a *API) Sync(ctx context.Context) {
	t := time.NewTicker(SyncEvery)
	defer t.Stop()
	for {
		a.SyncOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// SyncOnce does one pass of Sync.
func (a *API) SyncOnce(ctx context.Context) {
	a.refreshIfDue(ctx)
	a.discoverScheduled(ctx)
	a.settlePendingVotes(ctx)
	// Every running run, a page at a time (a pass once stopped at the
	// newest 500: the others were never synced), SyncParallel at once.
	for cursor := ""; ; {
		runs, next, err := a.Store.Runs(store.RunFilter{Status: workflows.RunRunning, Limit: SyncPage, Cursor: cursor})
		if err != nil || ctx.Err() != nil {
			return
		}
		var wg sync.WaitGroup
		work := make(chan *store.Run)
		for range min(SyncParallel, len(runs)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := range work {
					a.syncRun(ctx, r)
				}
			}()
		}
		for i := range runs {
			work <- &runs[i]
		}
		close(work)
		wg.Wait()
		if next == "" {
			return
		}
		cursor = next
	}
}

// SyncPage is how many running runs a pass reads from the records at a
// time; SyncParallel how many of them it brings up to date at once (each
// a description of the run, and a status query when its history grew).
const (
	SyncPage     = 500
	SyncParallel = 4
)

// runLocks serialize the writes of one run's records: the syncer's and
// the API's after a vote (recordVoted), so that a status read before a
// vote is never written after the one read after it. One lock per run
// being written, so a vote never waits for another run's read.
var (
	runLocksMu sync.Mutex
	runLocks   = map[string]*runLock{}
)

type runLock struct {
	mu    sync.Mutex
	users int
}

// lockRun takes run id's lock and returns its release.
func lockRun(id string) (unlock func()) {
	runLocksMu.Lock()
	l := runLocks[id]
	if l == nil {
		l = &runLock{}
		runLocks[id] = l
	}
	l.users++
	runLocksMu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		runLocksMu.Lock()
		if l.users--; l.users == 0 {
			delete(runLocks, id)
		}
		runLocksMu.Unlock()
	}
}

// syncState is what the syncer last wrote of a running run: the history
// length it read and a fingerprint of each timeline entry (a timeline only
// grows, and keeps its order across hand-overs), so that a pass writes
// only the entries that changed.
type syncState struct {
	length int64
	prints []uint64
}

func (a *API) syncRun(ctx context.Context, r *store.Run) {
	defer lockRun(r.ID)()
	st, length, err := a.liveStatus(ctx, r.ID)
	var nf *serviceerror.NotFound
	switch {
	case errors.As(err, &nf):
		a.notStarted(r)
		return
	case err != nil:
		return // unreachable now; the next pass tries again
	}
	if workflows.Ended(st.Status) {
		// The whole final timeline and the end, in the run's order; the
		// record then answers every view.
		if a.recordEnd(r, st) == nil {
			a.synced.Delete(r.ID)
		}
		return
	}
	if st.Status != r.Status && a.Store.SetStatus(r.ID, st.Status) == nil {
		r.Status = st.Status // waiting_decision, or running again
	}
	var last syncState
	if v, ok := a.synced.Load(r.ID); ok {
		last = v.(syncState)
		if last.length == length {
			return // nothing new since the last pass
		}
	}
	prints := make([]uint64, len(st.Steps))
	var changed []store.StepEvent
	for i, s := range st.Steps {
		rec := stepRecord(r.ID, s)
		prints[i] = fingerprint(rec)
		if i >= len(last.prints) || last.prints[i] != prints[i] {
			changed = append(changed, rec)
		}
	}
	if a.Store.RecordTimeline(r.ID, changed, nil) == nil {
		a.synced.Store(r.ID, syncState{length, prints})
	}
}

// fingerprint is a hash of what a step record says.
func fingerprint(e store.StepEvent) uint64 {
	h := fnv.New64a()
	b, _ := json.Marshal(e)
	h.Write(b)
	h.Write(e.Outputs)
	h.Write(e.Detail)
	return h.Sum64()
}

// discoverScheduled records runs that Temporal schedules started, and
// moves schedules made before launchers to them.
func (a *API) discoverScheduled(ctx context.Context) {
	vs, err := a.Store.Runbooks()
	if err != nil {
		return
	}
	seen := map[string]bool{}
	for i := range vs {
		p, err := vs[i].PlanOf()
		if err != nil {
			continue
		}
		for _, s := range p.Schedules {
			h := a.Temporal.ScheduleClient().GetHandle(ctx, ScheduleID(p.Name, s.Name))
			d, err := h.Describe(ctx)
			if err != nil {
				continue
			}
			for _, act := range d.Info.RecentActions {
				res := act.StartWorkflowResult
				if res == nil {
					continue
				}
				seen[res.FirstExecutionRunID] = true
				id := a.scheduledRun(ctx, res, p.Name, s.Name)
				if id == "" {
					continue
				}
				if _, err := a.Store.Run(id); err == nil {
					continue
				}
				r := &store.Run{ID: id, Runbook: p.Name, Version: vs[i].Version, Status: workflows.RunRunning,
					Trigger: string(plan.RunTriggerSchedule), TriggerDetail: s.Name, TriggeredBy: s.Name, StartedBy: SystemSchedule, CreatedAt: act.ActualTime.UTC()}
				params, _ := p.BindParams(s.Params)
				_, _ = a.Store.CreateRun(r, params)
			}
			if a.Scheduler != nil {
				_ = moveToLauncher(ctx, h, d) // on an error, the next pass tries again
			}
		}
	}
	a.launched.Range(func(k, _ any) bool {
		if !seen[k.(string)] {
			a.launched.Delete(k) // no longer among the schedules' recent fires
		}
		return true
	})
}

// scheduledRun is the id of the run a schedule's fire started: the
// launcher's child once it started ("" before), or the fire's workflow
// itself for a schedule made before launchers. Each fire's history is read
// once; a.launched remembers the answer.
func (a *API) scheduledRun(ctx context.Context, fire *client.ScheduleWorkflowExecution, runbook, schedule string) string {
	if id, ok := a.launched.Load(fire.FirstExecutionRunID); ok {
		return id.(string)
	}
	it := a.Temporal.GetWorkflowHistory(ctx, fire.WorkflowID, fire.FirstExecutionRunID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return ""
		}
		id := ""
		if st := e.GetWorkflowExecutionStartedEventAttributes(); st != nil && st.GetWorkflowType().GetName() != workflows.LauncherName {
			id = fire.WorkflowID
		}
		if cs := e.GetChildWorkflowExecutionStartedEventAttributes(); cs != nil {
			id = cs.GetWorkflowExecution().GetWorkflowId()
		}
		if id != "" {
			a.launched.Store(fire.FirstExecutionRunID, id)
			return id
		}
		if done := e.GetWorkflowExecutionCompletedEventAttributes(); done != nil {
			a.recordSkip(fire, done.GetResult(), runbook, schedule)
		}
		if closesWorkflow(e) {
			// A launcher that ended without a child never will have one:
			// remember that too, so its history is read once.
			a.launched.Store(fire.FirstExecutionRunID, "")
			return ""
		}
	}
	return ""
}

// recordSkip audits a launcher's fire that a freeze held back (its result
// says Skipped), once.
func (a *API) recordSkip(fire *client.ScheduleWorkflowExecution, result *commonpb.Payloads, runbook, schedule string) {
	dc := converter.GetDefaultDataConverter()
	if a.Codec != nil {
		dc = converter.NewCodecDataConverter(dc, a.Codec)
	}
	var res workflows.RunResult
	if result == nil || dc.FromPayloads(result, &res) != nil || res.Skipped == nil {
		return
	}
	sk := res.Skipped
	_ = a.Store.RecordSkip(fire.FirstExecutionRunID, store.AuditRecord{Actor: SystemSchedule, Action: store.ActionScheduleSkip,
		Target: runbook + "/" + schedule, Runbook: runbook, Detail: store.ScheduleSkipDetail{Schedule: schedule, Freeze: sk.Freeze,
			Fire: sk.Fire.UTC().Format(time.RFC3339), Until: sk.Until.UTC().Format(time.RFC3339)}})
}

// closesWorkflow reports whether e is the last event of an execution.
func closesWorkflow(e *historypb.HistoryEvent) bool {
	switch e.GetEventType() {
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
		return true
	}
	return false
}

// observeSteps counts the steps of a run's final timeline.
func observeSteps(runbook string, steps []store.StepEvent) {
	for _, s := range steps {
		if s.Status == workflows.StatusPending || s.Status == workflows.StatusNotReached {
			continue
		}
		stepsDone.WithLabelValues(runbook, s.Kind, s.Status).Inc()
		if s.StartedAt != nil && s.EndedAt != nil {
			stepDuration.WithLabelValues(runbook, s.Kind).Observe(s.EndedAt.Sub(*s.StartedAt).Seconds())
		}
	}
}

// VoteSettleAfter is how old a pending vote is before the syncer settles
// it: past the API's own wait (VoteWait), so it never races a vote whose
// answer the API still waits for.
const VoteSettleAfter = 2 * VoteWait

// MaxSettlePerPass bounds the pending votes one pass looks at.
const MaxSettlePerPass = 50

// settlePendingVotes settles the votes left pending (the API lost the
// run's answer: the caller left, the wait timed out, the records failed):
// counted, with its entry, when the run's timeline holds the vote; refused
// when the run has ended or no longer waits at that approval; otherwise
// left for a later pass (the vote may still reach the run).
func (a *API) settlePendingVotes(ctx context.Context) {
	votes, err := a.Store.PendingVotes(timeNow().Add(-VoteSettleAfter), MaxSettlePerPass)
	if err != nil {
		return
	}
	for i := range votes {
		v := &votes[i]
		run, runbook := a.auditScope(v.RunID)
		st, _, err := a.liveStatus(ctx, v.RunID)
		var nf *serviceerror.NotFound
		switch {
		case errors.As(err, &nf):
			if status, over := a.endedRun(ctx, v.RunID); over {
				a.refusePending(v, run, runbook, ended(v.RunID, status))
			}
			continue
		case err != nil:
			continue
		}
		waits, has := approvalState(st, v)
		switch {
		case has:
			_ = a.Store.CountVote(v.ID, run, runbook)
		case workflows.Ended(st.Status):
			a.refusePending(v, run, runbook, ended(v.RunID, st.Status))
		case !waits:
			a.refusePending(v, run, runbook, problem(http.StatusConflict, fmt.Sprintf("step %s is not waiting for approval", v.StepID),
				map[string]string{"reason": workflows.VoteNotWaiting}))
		}
	}
}

// refusePending removes a pending vote with the refusal answer as its
// entry's reason.
func (a *API) refusePending(v *store.Vote, run, runbook string, answer error) {
	reason, status, _ := refusal(answer)
	_ = a.Store.RefuseVote(v.ID, store.VoteAudit(v, run, runbook, reason, "", status))
}

// approvalState says whether v's approval (step and item) waits for votes
// in st, and whether its votes hold v's user with v's decision.
func approvalState(st *workflows.Status, v *store.Vote) (waits, has bool) {
	for _, s := range st.Steps {
		if s.ID != v.StepID || (v.Item < 0) != (s.Item == nil) || s.Item != nil && *s.Item != v.Item {
			continue
		}
		waits = waits || s.Status == workflows.StatusWaitingApproval
		for _, x := range s.Votes {
			has = has || x.User == v.User && string(x.Decision) == v.Decision
		}
	}
	return waits, has
}
