package server

import (
	"encoding/json"
	"time"

	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/workflows"
)

// A run's timeline is in Temporal while it runs and in the records once it
// ended: the records syncer (and the first view of an ended run the
// syncer has not written) writes the final timeline and marks the run
// recorded (store.Run.Recorded). Every later view reads the records and
// never asks Temporal: a status query of a closed run replays its last
// execution on a worker.

// settle is how the API shows a status: once the run has ended, an entry
// that never ran is not-reached, not pending. The workflow keeps pending
// (a step's status is steps.<id>.status to finally's expressions, so the
// workflow could change it only behind a version); doing it here, where
// every status and every record passes, covers the runs that ended before
// too.
func settle(st *workflows.Status) {
	if st == nil || !workflows.Ended(st.Status) {
		return
	}
	settleSteps(st.Steps)
}

func settleSteps(steps []workflows.StepState) {
	for i := range steps {
		if steps[i].Status == workflows.StatusPending {
			steps[i].Status = workflows.StatusNotReached
		}
	}
}

// A step record keeps in columns what is filtered or sorted on (step,
// item, loop, phase, kind, status, attempts, times, outputs, error); its
// Detail holds every other field of the timeline entry as JSON, so a field
// added to workflows.StepState is kept without a change here.

// stepRecord is a timeline entry as its record, its times to the
// microsecond (what Postgres keeps), so that every time of it reads back
// the same.
func stepRecord(runID string, s workflows.StepState) store.StepEvent {
	s.StartedAt, s.EndedAt = micro(s.StartedAt), micro(s.EndedAt)
	s.CompensationStartedAt, s.CompensationEndedAt = micro(s.CompensationStartedAt), micro(s.CompensationEndedAt)
	item := -1
	if s.Item != nil {
		item = *s.Item
	}
	out, _ := json.Marshal(s.Outputs)
	rest := s
	rest.ID, rest.Kind, rest.Loop, rest.Item, rest.Phase, rest.Status, rest.Attempts = "", "", "", nil, "", "", 0
	rest.StartedAt, rest.EndedAt, rest.Outputs, rest.Error, rest.ErrorType = nil, nil, nil, "", ""
	var detail []byte
	if b, _ := json.Marshal(rest); string(b) != `{"id":"","kind":"","status":""}` {
		detail = b
	}
	return store.StepEvent{RunID: runID, StepID: s.ID, Item: item, Loop: s.Loop, Phase: s.Phase, Kind: s.Kind, Status: s.Status,
		Attempts: s.Attempts, StartedAt: s.StartedAt, EndedAt: s.EndedAt, Outputs: out, Error: s.Error, ErrorType: s.ErrorType, Detail: detail}
}

// stepState is a record as a timeline entry: its detail, then its columns.
func stepState(e store.StepEvent) workflows.StepState {
	var s workflows.StepState
	if len(e.Detail) > 0 {
		_ = json.Unmarshal(e.Detail, &s)
	}
	s.ID, s.Kind, s.Loop, s.Phase, s.Status, s.Attempts = e.StepID, e.Kind, e.Loop, e.Phase, e.Status, e.Attempts
	s.StartedAt, s.EndedAt, s.Error, s.ErrorType, s.Outputs, s.Item = utc(e.StartedAt), utc(e.EndedAt), e.Error, e.ErrorType, nil, nil
	if e.Item >= 0 {
		item := e.Item
		s.Item = &item
	}
	_ = json.Unmarshal(e.Outputs, &s.Outputs)
	return s
}

func micro(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC().Truncate(time.Microsecond)
	return &u
}

// utc gives a time read back from the records the zone it was written in.
func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func stepRecords(runID string, steps []workflows.StepState) []store.StepEvent {
	out := make([]store.StepEvent, len(steps))
	for i, s := range steps {
		out[i] = stepRecord(runID, s)
	}
	return out
}

// runEnd is how an ended status ends its run's record; a closed run no
// worker could be asked about ends when Temporal closed it, and a status
// with no end time at all at now.
func runEnd(st *workflows.Status) store.RunEnd {
	at := time.Now().UTC()
	if st.EndedAt != nil {
		at = st.EndedAt.UTC().Truncate(time.Microsecond)
	}
	return store.RunEnd{Status: st.Status, ErrorType: st.ErrorType, Error: st.Error, FailedStep: st.FailedStep,
		Outputs: st.Outputs, At: at, Handovers: st.Handovers}
}

// hasTimeline reports whether a status carries the run's timeline: a
// closed run no worker could be asked about has none (every plan has a
// step), and must not be recorded as if it had.
func hasTimeline(st *workflows.Status) bool {
	return st.StepsTotal > 0 && len(st.Steps) == st.StepsTotal
}

// recordEnd writes an ended run's whole timeline (st, settled) and its end.
// A status without its timeline ends the record and leaves it unrecorded,
// so that a later view asks again.
// A run Temporal terminated or timed out has no timeline to ask for: its
// records, as the syncer last saw them, become its final timeline.
func (a *API) recordEnd(r *store.Run, st *workflows.Status) error {
	end := runEnd(st)
	switch {
	case hasTimeline(st):
		return a.endRun(r, stepRecords(r.ID, st.Steps), end, true)
	case st.ErrorType == ErrTerminated || st.ErrorType == ErrTimedOut:
		seen, err := a.Store.Steps(r.ID)
		if err != nil {
			return err
		}
		return a.endRun(r, seen, end, true)
	}
	return a.endRun(r, nil, end, false)
}

// endRun is the one way a run's record ends: it writes the end (and, when
// final, steps as the final timeline) and counts, in the metrics, the
// run's end where the record first says it ended, and its steps where it
// first holds them: once per run, whether the syncer, a view (a run's
// page, its event stream, the approvals list), a start that found the run
// ended, or another API replica wrote it first.
func (a *API) endRun(r *store.Run, steps []store.StepEvent, end store.RunEnd, final bool) error {
	got, err := a.Store.End(r.ID, steps, end, final)
	if err != nil {
		return err
	}
	if got.Ended {
		runsFinished.WithLabelValues(r.Runbook, end.Status).Inc()
		runDuration.WithLabelValues(r.Runbook).Observe(end.At.Sub(r.CreatedAt).Seconds())
	}
	if got.Recorded {
		observeSteps(r.Runbook, steps)
	}
	return nil
}
