package store

import (
	"encoding/json"
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

// PrepareVote records a vote as pending, with its approval.vote audit entry
// by the voter, in one transaction: before the run is asked to count it,
// so a vote never counts unrecorded. It returns the audit entry's id.
func (s *Store) PrepareVote(v *Vote, detail any) (uint, error) {
	d, err := json.Marshal(detail)
	if err != nil {
		return 0, fmt.Errorf("store: vote detail: %w", err)
	}
	v.Status = VotePending
	entry := &AuditEntry{At: time.Now().UTC(), Actor: v.User, Action: "approval.vote", Target: v.RunID + "/" + v.StepID, Detail: string(d)}
	err = s.transaction(func(tx *gorm.DB) error {
		if err := tx.Create(v).Error; err != nil {
			return err
		}
		return tx.Create(entry).Error
	})
	if err != nil {
		return 0, fmt.Errorf("store: record vote: %w", err)
	}
	return entry.ID, nil
}

// CountVote marks a prepared vote counted.
func (s *Store) CountVote(id uint) error {
	return s.db.Model(&Vote{}).Where("id = ?", id).Update("status", VoteCounted).Error
}

// DropVote removes a prepared vote the run refused, and its audit entry: a
// refused vote changes nothing.
func (s *Store) DropVote(id, auditID uint) error {
	return s.transaction(func(tx *gorm.DB) error {
		if err := tx.Delete(&Vote{}, id).Error; err != nil {
			return err
		}
		return tx.Delete(&AuditEntry{}, auditID).Error
	})
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
