package store

import (
	"bytes"
	"cmp"
	"database/sql"
	"slices"
	"strings"
	"time"
)

// Statuses of timeline entries the approvals list reads (those of
// workflows; the store does not import the interpreter).
const (
	StepWaitingApproval = "waiting-approval"
	StepWaitingDecision = "waiting-decision"
	StepRunning         = "running"
	StepKindRunbook     = "runbook"
)

// WaitingStep is a timeline entry of a running run that waits for people
// (an approval's votes, a decision), or a sub-runbook step still running
// (whose child run may wait), with what of its run the approvals list
// needs.
type WaitingStep struct {
	// The entry: its columns the list reads (not its times, attempts or
	// outputs).
	RunID     string
	StepID    string
	Item      int
	Loop      string
	Kind      string
	Status    string
	Error     string
	ErrorType string
	Detail    []byte
	// Its run.
	Runbook     string
	Version     int
	StartedBy   string
	TriggeredBy string
	Exceptions  []byte
	CreatedAt   time.Time
	order       int64 // the entry's place in its run's timeline
}

// Same reports whether w and o read the same: the entry's columns and its
// run's.
func (w *WaitingStep) Same(o *WaitingStep) bool {
	return w.RunID == o.RunID && w.StepID == o.StepID && w.Item == o.Item && w.Loop == o.Loop && w.Kind == o.Kind &&
		w.Status == o.Status && w.Error == o.Error && w.ErrorType == o.ErrorType && bytes.Equal(w.Detail, o.Detail) &&
		w.Runbook == o.Runbook && w.Version == o.Version && w.StartedBy == o.StartedBy && w.TriggeredBy == o.TriggeredBy &&
		bytes.Equal(w.Exceptions, o.Exceptions) && w.CreatedAt.Equal(o.CreatedAt) && w.order == o.order
}

// Event is the entry as a step record.
func (w *WaitingStep) Event() StepEvent {
	return StepEvent{RunID: w.RunID, StepID: w.StepID, Item: w.Item, Loop: w.Loop, Kind: w.Kind, Status: w.Status,
		Error: w.Error, ErrorType: w.ErrorType, Detail: w.Detail}
}

// Run is the entry's run, as much of its record as the list needs.
func (w *WaitingStep) Run() Run {
	return Run{ID: w.RunID, Runbook: w.Runbook, Version: w.Version, Status: StatusRunning, StartedBy: w.StartedBy,
		TriggeredBy: w.TriggeredBy, Exceptions: w.Exceptions, CreatedAt: w.CreatedAt}
}

// WaitingSteps lists, in one query over the step records, the entries of
// every run recorded as running (or waiting for a decision) that wait for
// approval or a decision, or are sub-runbook steps still running: runs
// newest first (as Runs lists them), each run's entries in timeline order.
// There is no limit: a run parked on an approval is listed however many
// runs are running. The records are what the syncer (and the API, after a
// vote) last wrote of each run.
func (s *Store) WaitingSteps() ([]WaitingStep, error) {
	var out []WaitingStep
	// Read with the driver's own scan (10,000 entries in a fraction of
	// what GORM's reflection takes), sorted here rather than by the
	// database, on the read pool (on SQLite a transaction would hold the
	// one writer for the whole scan), bounded by the query timeout.
	ctx, cancel := s.bound(s.reads.Statement.Context)
	defer cancel()
	err := func() error {
		rows, err := s.reads.WithContext(ctx).Table("runs").
			Select(`step_events.id, step_events.run_id, step_events.step_id, step_events.item, step_events.loop, step_events.kind,
				step_events.status, step_events.error, step_events.error_type, step_events.detail, runs.runbook, runs.version,
				runs.started_by, runs.triggered_by, runs.exceptions, runs.created_at`).
			Joins("JOIN step_events ON step_events.run_id = runs.id").
			Where("runs.status IN ?", LiveStatuses).
			Where("step_events.status IN ? OR (step_events.kind = ? AND step_events.status = ?)",
				[]string{StepWaitingApproval, StepWaitingDecision}, StepKindRunbook, StepRunning).
			Rows()
		if err != nil {
			return s.unavailable(err)
		}
		defer rows.Close()
		for rows.Next() {
			var w WaitingStep
			var loop, kind, errText, errType, startedBy, triggeredBy sql.NullString
			if err := rows.Scan(&w.order, &w.RunID, &w.StepID, &w.Item, &loop, &kind, &w.Status, &errText, &errType, &w.Detail,
				&w.Runbook, &w.Version, &startedBy, &triggeredBy, &w.Exceptions, &w.CreatedAt); err != nil {
				return err
			}
			w.Loop, w.Kind, w.Error, w.ErrorType, w.StartedBy, w.TriggeredBy = loop.String, kind.String, errText.String, errType.String, startedBy.String, triggeredBy.String
			out = append(out, w)
		}
		return s.unavailable(rows.Err())
	}()
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b WaitingStep) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		if c := strings.Compare(b.RunID, a.RunID); c != 0 {
			return c
		}
		return cmp.Compare(a.order, b.order)
	})
	return out, nil
}

// RecordsGeneration changes with every write of this store's to what
// WaitingSteps and UnrecordedRunning read (step records, a new run, a
// run's status or end): a reader that
// saw a generation and reads it again unchanged has missed no write made
// through this store (other processes' writes it does not see).
func (s *Store) RecordsGeneration() uint64 { return s.shared.records.Load() }

func (s *Store) wroteRecords() { s.shared.records.Add(1) }

// UnrecordedRunning lists up to limit runs recorded as running that have
// no step records yet (the syncer has not written their timeline: just
// started), newest first, and whether there were more.
func (s *Store) UnrecordedRunning(limit int) ([]Run, bool, error) {
	var out []Run
	err := s.reads.Where("status IN ?", LiveStatuses).
		Where("NOT EXISTS (SELECT 1 FROM step_events WHERE step_events.run_id = runs.id)").
		Order("created_at DESC, id DESC").Limit(limit + 1).Find(&out).Error
	if err != nil {
		return nil, false, err
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}

// CountWaiting counts the timeline entries waiting for approval of
// running runs of runbook (all runbooks: "").
func (s *Store) CountWaiting(runbook string) (int, error) {
	var n int64
	q := s.db.Table("runs").Joins("JOIN step_events ON step_events.run_id = runs.id").
		Where("runs.status IN ? AND step_events.status = ?", LiveStatuses, StepWaitingApproval)
	if runbook != "" {
		q = q.Where("runs.runbook = ?", runbook)
	}
	err := q.Count(&n).Error
	return int(n), err
}
