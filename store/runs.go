package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// ErrDuplicate is a run whose idempotency key was used before; the
// existing run comes with it.
var ErrDuplicate = errors.New("a run with this idempotency key exists")

// ErrHeld is a run whose concurrency key a running run holds; that run
// comes with it.
var ErrHeld = errors.New("a running run holds this concurrency key")

// CreateRun records a new run and, in the same transaction, its run.start
// audit entry (by StartedBy). With an idempotency key already used, it
// returns the existing run and ErrDuplicate; with a concurrency key a
// running run holds, that run and ErrHeld.
func (s *Store) CreateRun(r *Run, params map[string]any) (*Run, error) {
	b, err := json.Marshal(params)
	if err != nil {
		return nil, fmt.Errorf("store: params: %w", err)
	}
	r.Params = b
	if r.IdempotencyKey != nil {
		if existing, err := s.runByKey(*r.IdempotencyKey); err == nil {
			return existing, ErrDuplicate
		}
	}
	r.Holds = nil
	if r.ConcurrencyKey != "" && Live(r.Status) {
		h := r.Runbook + "/" + r.ConcurrencyKey
		r.Holds = &h
	}
	entry := AuditRecord{Actor: r.Starter(), Action: ActionRunStart, Target: r.ID, Run: r.ID, Runbook: r.Runbook,
		Detail: RunStartDetail{Version: r.Version, Trigger: r.Trigger, TriggeredBy: r.TriggeredBy, TriggerDetail: r.TriggerDetail}}
	defer s.wroteRecords()
	audits := []AuditRecord{entry}
	if r.RerunOf != "" {
		audits = []AuditRecord{{Actor: r.Starter(), Action: ActionRunRerun, Target: r.ID, Run: r.ID, Runbook: r.Runbook,
			Detail: RerunDetail{Of: r.RerunOf, From: r.RerunFrom, Version: r.Version, Reason: r.RerunReason}}, entry}
	}
	err = s.insertRun(r, audits)
	if err != nil {
		if r.IdempotencyKey != nil {
			if existing, kerr := s.runByKey(*r.IdempotencyKey); kerr == nil {
				return existing, ErrDuplicate // lost a race with the same key
			}
		}
		if r.Holds != nil {
			var holder Run
			if herr := s.db.Where("holds = ?", *r.Holds).First(&holder).Error; herr == nil {
				return &holder, ErrHeld
			}
		}
		return nil, fmt.Errorf("store: create run: %w", err)
	}
	return r, nil
}

// RunByKey returns the run an idempotency key names.
func (s *Store) RunByKey(key string) (*Run, error) { return s.runByKey(key) }

func (s *Store) runByKey(key string) (*Run, error) {
	var r Run
	if err := s.db.Where("idempotency_key = ?", key).First(&r).Error; err != nil {
		return nil, notFound(err)
	}
	return &r, nil
}

// Run returns a run.
func (s *Store) Run(id string) (*Run, error) {
	var r Run
	if err := s.db.First(&r, "id = ?", id).Error; err != nil {
		return nil, notFound(err)
	}
	return &r, nil
}

// FinishRun records how a run ended.
func (s *Store) FinishRun(id, status, errType, errMsg string, outputs map[string]any, at time.Time) error {
	return s.EndRun(id, RunEnd{Status: status, ErrorType: errType, Error: errMsg, Outputs: outputs, At: at})
}

// RunEnd is how a run ended, as its record keeps it.
type RunEnd struct {
	Status, ErrorType, Error, FailedStep string
	Outputs                              map[string]any
	At                                   time.Time
	Handovers                            int
}

func (e RunEnd) fields() (map[string]any, error) {
	b, err := json.Marshal(e.Outputs)
	if err != nil {
		return nil, err
	}
	fields := map[string]any{"status": e.Status, "error_type": e.ErrorType, "error": e.Error, "failed_step": e.FailedStep,
		"outputs": b, "ended_at": e.At, "handovers": e.Handovers}
	if !Live(e.Status) {
		fields["holds"] = nil
	}
	return fields, nil
}

// EndRun records how a run ended, its timeline records as they are.
func (s *Store) EndRun(id string, e RunEnd) error {
	_, err := s.End(id, nil, e, false)
	return err
}

// RecordTimeline writes a run's timeline entries (in its order) and, with
// end, how the run ended: its record then says its step records hold its
// final timeline (Run.Recorded), written before.
func (s *Store) RecordTimeline(id string, steps []StepEvent, end *RunEnd) error {
	if end == nil {
		return s.writeSteps(id, lastOfEach(steps))
	}
	_, err := s.End(id, steps, *end, true)
	return err
}

// Ending says what a write of a run's end changed: Ended, the record said
// running before it; Recorded, the record holds the run's final timeline
// and did not before. Each holds for one write of a run only, whichever
// view, syncer or API replica writes it, so what counts ends (the
// metrics) counts each once.
type Ending struct{ Ended, Recorded bool }

// End records how a run ended and, when final, steps as its final
// timeline (written first; the record then says its step records hold it:
// Run.Recorded). Each statement writes at most 500 entries, within the
// query timeout. Entries with the same step and item (runs from before
// compensation steps had their item) keep the last one, in the first
// one's place.
func (s *Store) End(id string, steps []StepEvent, e RunEnd, final bool) (Ending, error) {
	steps = lastOfEach(steps)
	if err := s.writeSteps(id, steps); err != nil {
		return Ending{}, err
	}
	fields, err := e.fields()
	if err != nil {
		return Ending{}, err
	}
	var out Ending
	defer s.wroteRecords()
	err = s.transaction(func(tx *gorm.DB) error {
		if final {
			// A conditional update is atomic on SQLite and Postgres: of
			// writers racing, one sees the row it changes.
			res := tx.Model(&Run{}).Where("id = ? AND recorded = 0", id).Update("recorded", len(steps))
			if res.Error != nil {
				return res.Error
			}
			out.Recorded = res.RowsAffected == 1 && len(steps) > 0
			if res.RowsAffected == 0 {
				if err := tx.Model(&Run{}).Where("id = ?", id).Update("recorded", len(steps)).Error; err != nil {
					return err
				}
			}
		}
		res := tx.Model(&Run{}).Where("id = ? AND status IN ?", id, LiveStatuses).Updates(fields)
		if res.Error != nil {
			return res.Error
		}
		out.Ended = res.RowsAffected == 1 && !Live(e.Status)
		if res.RowsAffected == 1 {
			return nil
		}
		return tx.Model(&Run{}).Where("id = ?", id).Updates(fields).Error
	})
	if err != nil {
		return Ending{}, err
	}
	return out, nil
}

func (s *Store) writeSteps(id string, steps []StepEvent) error {
	if len(steps) == 0 {
		return nil
	}
	defer s.wroteRecords() // also after a failure: some may be written
	for from := 0; from < len(steps); from += 500 {
		err := s.db.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "run_id"}, {Name: "step_id"}, {Name: "item"}},
			DoUpdates: clause.AssignmentColumns(stepColumns),
		}).Create(steps[from:min(from+500, len(steps))]).Error
		if err != nil {
			return fmt.Errorf("store: timeline of %s: %w", id, err)
		}
	}
	return nil
}

var stepColumns = []string{"loop", "phase", "kind", "status", "attempts", "started_at", "ended_at", "outputs", "error", "error_type", "detail", "updated_at"}

func lastOfEach(steps []StepEvent) []StepEvent {
	type key struct {
		step string
		item int
	}
	at := make(map[key]int, len(steps))
	out := make([]StepEvent, 0, len(steps))
	for _, e := range steps {
		k := key{e.StepID, e.Item}
		if i, ok := at[k]; ok {
			out[i] = e
			continue
		}
		at[k] = len(out)
		out = append(out, e)
	}
	return out
}

// StepsPage returns limit entries of a run's timeline from offset, in
// order.
func (s *Store) StepsPage(runID string, offset, limit int) ([]StepEvent, error) {
	var out []StepEvent
	err := s.db.Where("run_id = ?", runID).Order("id").Offset(offset).Limit(limit).Find(&out).Error
	return out, err
}

// VersionHashes maps "name@version" to the hash of each runbook version
// the runs are of.
func (s *Store) VersionHashes(runs []Run) (map[string]string, error) {
	out := map[string]string{}
	byName := map[string][]int{}
	for _, r := range runs {
		if !slices.Contains(byName[r.Runbook], r.Version) {
			byName[r.Runbook] = append(byName[r.Runbook], r.Version)
		}
	}
	for name, versions := range byName {
		var vs []RunbookVersion
		if err := s.reads.Select("name", "version", "hash").Where("name = ? AND version IN ?", name, versions).Find(&vs).Error; err != nil {
			return nil, err
		}
		for _, v := range vs {
			out[fmt.Sprintf("%s@%d", v.Name, v.Version)] = v.Hash
		}
	}
	return out, nil
}

// RunFilter selects runs; zero fields select all. Cursor is the ID of the
// last run of the previous page.
type RunFilter struct {
	Runbook, Status, Trigger string
	Since, Until             time.Time
	Cursor                   string
	Limit                    int
}

// Runs lists runs, newest first, a page at a time. It returns the cursor
// of the next page, or "" at the end.
func (s *Store) Runs(f RunFilter) ([]Run, string, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 50
	}
	q := s.db.Model(&Run{})
	if f.Runbook != "" {
		q = q.Where("runbook = ?", f.Runbook)
	}
	switch f.Status {
	case "":
	case StatusRunning: // a run waiting for a decision is running too
		q = q.Where("status IN ?", LiveStatuses)
	default:
		q = q.Where("status = ?", f.Status)
	}
	if f.Trigger != "" {
		q = q.Where("trigger = ?", f.Trigger)
	}
	if !f.Since.IsZero() {
		q = q.Where("created_at >= ?", f.Since)
	}
	if !f.Until.IsZero() {
		q = q.Where("created_at < ?", f.Until)
	}
	if f.Cursor != "" {
		last, err := s.Run(f.Cursor)
		if err != nil {
			return nil, "", fmt.Errorf("cursor: %w", err)
		}
		q = q.Where("created_at < ? OR (created_at = ? AND id < ?)", last.CreatedAt, last.CreatedAt, last.ID)
	}
	var out []Run
	if err := q.Order("created_at DESC, id DESC").Limit(f.Limit + 1).Find(&out).Error; err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > f.Limit {
		out = out[:f.Limit]
		next = out[len(out)-1].ID
	}
	return out, next, nil
}

// SaveStep upserts a step's state in a run's timeline.
func (s *Store) SaveStep(e *StepEvent) error {
	return s.RecordTimeline(e.RunID, []StepEvent{*e}, nil)
}

// Steps returns a run's timeline in order of start.
func (s *Store) Steps(runID string) ([]StepEvent, error) {
	var out []StepEvent
	err := s.db.Where("run_id = ?", runID).Order("id").Find(&out).Error
	return out, err
}

// Running lists the runs recorded as running with a concurrency key.
func (s *Store) Running(runbook, key string) ([]Run, error) {
	var out []Run
	err := s.db.Where("runbook = ? AND concurrency_key = ? AND status IN ?", runbook, key, LiveStatuses).Order("created_at").Find(&out).Error
	return out, err
}

// The statuses of a run that has not ended (workflows.LiveStatuses; the
// store does not import the interpreter): a run waiting for a decision
// holds its concurrency key and is listed with the running ones.
const (
	StatusRunning         = "running"
	StatusWaitingDecision = "waiting_decision"
)

// LiveStatuses are the statuses of runs that have not ended.
var LiveStatuses = []string{StatusRunning, StatusWaitingDecision}

// Live reports whether a run of status has not ended.
func Live(status string) bool { return status == StatusRunning || status == StatusWaitingDecision }

// SetStatus updates a run's status.
func (s *Store) SetStatus(id, status string) error {
	fields := map[string]any{"status": status}
	if !Live(status) {
		fields["holds"] = nil
	}
	defer s.wroteRecords()
	return s.db.Model(&Run{}).Where("id = ?", id).Updates(fields).Error
}

// Starter is who started a run, as the audit names it and approvals
// compare it: the authenticated caller, or, for records made before
// StartedBy existed, what triggered it.
// Reruns lists the runs that rerun run id, oldest first.
func (s *Store) Reruns(id string) ([]string, error) {
	var ids []string
	err := s.db.Model(&Run{}).Where("rerun_of = ?", id).Order("created_at, id").Limit(100).Pluck("id", &ids).Error
	return ids, err
}

func (r *Run) Starter() string {
	if r.StartedBy != "" {
		return r.StartedBy
	}
	return r.TriggeredBy
}
