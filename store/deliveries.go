package store

import (
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm/clause"
)

// ErrReplay is a webhook delivery received before.
var ErrReplay = errors.New("this delivery was received before")

// Delivery is a signed webhook delivery the API accepted, kept while its
// signature could still be replayed so that every API replica refuses
// the same delivery a second time.
type Delivery struct {
	ID uint `gorm:"primaryKey"`
	// Hook and Digest (the SHA-256 of what was signed) are unique
	// together: the insert is the claim.
	Hook       string    `gorm:"size:63;not null;uniqueIndex:delivery_hook_digest"`
	Digest     string    `gorm:"size:64;not null;uniqueIndex:delivery_hook_digest"`
	DeliveryID string    `gorm:"size:200;not null"`
	SignedAt   time.Time `gorm:"not null"`
	ExpiresAt  time.Time `gorm:"not null;index"`
	CreatedAt  time.Time
}

// ClaimDelivery records d, or returns ErrReplay when a delivery with the
// same hook and digest is recorded. It first forgets deliveries past
// their ExpiresAt, which no longer verify anyway.
func (s *Store) ClaimDelivery(d *Delivery) error {
	if err := s.db.Where("expires_at < ?", time.Now().UTC()).Delete(&Delivery{}).Error; err != nil {
		return fmt.Errorf("store: prune deliveries: %w", err)
	}
	res := s.db.Clauses(clause.OnConflict{DoNothing: true}).Create(d)
	if res.Error != nil {
		return fmt.Errorf("store: claim delivery: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrReplay
	}
	return nil
}

// ReleaseDelivery forgets a claimed delivery that started nothing, so the
// sender may send it again.
func (s *Store) ReleaseDelivery(hook, digest string) error {
	return s.db.Where("hook = ? AND digest = ?", hook, digest).Delete(&Delivery{}).Error
}

// Deliveries counts the deliveries remembered for hook.
func (s *Store) Deliveries(hook string) (int64, error) {
	var n int64
	err := s.db.Model(&Delivery{}).Where("hook = ?", hook).Count(&n).Error
	return n, err
}
