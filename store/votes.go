package store

import (
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Vote states.
const (
	VotePending = "pending"
	VoteCounted = "counted"
)

// AddVote records an approval vote as it is (counted, without a status).
func (s *Store) AddVote(v *Vote) error {
	if v.Status == "" {
		v.Status = VoteCounted
	}
	return s.db.Create(v).Error
}

// PrepareVote records a vote as pending, before the run is asked to count
// it, so a vote never counts unrecorded. Its audit entry is appended with
// the run's answer (CountVote, RefuseVote): append-only, the trail never
// holds a vote the run refused as done.
func (s *Store) PrepareVote(v *Vote) error {
	v.Status = VotePending
	if err := s.db.Create(v).Error; err != nil {
		return fmt.Errorf("store: record vote: %w", err)
	}
	return nil
}

// CountVote marks a prepared vote counted and, the first time, appends its
// approval.vote entry by the voter (about run and runbook) in the same
// transaction: a retry of a counted vote records nothing more.
func (s *Store) CountVote(id uint, run, runbook string) error {
	return s.transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Vote{}).Where("id = ? AND status = ?", id, VotePending).Update("status", VoteCounted)
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		var v Vote
		if err := tx.First(&v, id).Error; err != nil {
			return err
		}
		return appendAudit(tx, VoteAudit(&v, run, runbook, "", "", 0))
	})
}

// RefuseVote removes a prepared vote the run or the API refused and
// appends the refusal, in one transaction: a refused vote counts nothing,
// and the trail says who tried and why it was refused.
// A vote already settled (counted, or refused by the syncer) records
// nothing more.
func (s *Store) RefuseVote(id uint, refusal AuditRecord) error {
	return s.transaction(func(tx *gorm.DB) error {
		res := tx.Where("id = ? AND status = ?", id, VotePending).Delete(&Vote{})
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		return appendAudit(tx, refusal)
	})
}

// PendingVotes lists up to limit votes still pending that were sealed
// before before, oldest first: votes whose answer the API lost, for the
// syncer to settle.
func (s *Store) PendingVotes(before time.Time, limit int) ([]Vote, error) {
	var out []Vote
	err := s.db.Where("status = ? AND at < ?", VotePending, before.UTC()).Order("id").Limit(limit).Find(&out).Error
	return out, err
}

// DropVote removes a prepared vote without an audit entry: the retry of a
// vote the run counted before (whose entry was appended then).
func (s *Store) DropVote(id uint) error { return s.db.Delete(&Vote{}, id).Error }

// VoteAudit is v's approval.vote entry, refused when reason is set (code
// the run's reason code, status the HTTP answer).
func VoteAudit(v *Vote, run, runbook, reason, code string, status int) AuditRecord {
	d := VoteDetail{Step: v.StepID, Decision: v.Decision, Comment: v.Comment, Code: code, Status: status}
	if v.Item >= 0 {
		item := v.Item
		d.Item = &item
	}
	return AuditRecord{Actor: v.User, Action: ActionApprovalVote, Target: v.RunID + "/" + v.StepID, Run: run, Runbook: runbook, Refused: reason, Detail: d}
}

// VoteOf returns a user's recorded vote on a step (item -1 outside loops),
// for a retry of a vote the run already counted.
func (s *Store) VoteOf(runID, step string, item int, user string) (*Vote, error) {
	var v Vote
	// A map condition, so the column "user" (reserved in Postgres) is quoted.
	err := s.db.Where(map[string]any{"run_id": runID, "step_id": step, "item": item, "user": user}).Order("id").First(&v).Error
	if err != nil {
		return nil, notFound(err)
	}
	return &v, nil
}

// Votes lists a run's votes in order.
func (s *Store) Votes(runID string) ([]Vote, error) {
	var out []Vote
	err := s.db.Where("run_id = ?", runID).Order("at, id").Find(&out).Error
	return out, err
}
