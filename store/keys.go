package store

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm/clause"
)

// Setting is a value the API replicas share, made once.
type Setting struct {
	Name      string `gorm:"primaryKey;size:100"`
	Value     string `gorm:"type:text;not null"`
	CreatedAt time.Time
}

const voteKeySetting = "vote-signing-key"

// VoteKey returns the Ed25519 key the API seals votes and events with. The
// first replica to ask makes it; every replica then reads the same key.
// Workers never read the records, so they never hold it: runs get only its
// public half.
func (s *Store) VoteKey(generate func() (ed25519.PrivateKey, error)) (ed25519.PrivateKey, error) {
	for range 2 {
		var st Setting
		err := s.db.First(&st, "name = ?", voteKeySetting).Error
		if err == nil {
			key, err := hex.DecodeString(st.Value)
			if err != nil || len(key) != ed25519.PrivateKeySize {
				return nil, fmt.Errorf("store: the %s setting is malformed", voteKeySetting)
			}
			return ed25519.PrivateKey(key), nil
		}
		if !errors.Is(notFound(err), ErrNotFound) {
			return nil, fmt.Errorf("store: read %s: %w", voteKeySetting, err)
		}
		key, err := generate()
		if err != nil {
			return nil, err
		}
		// Of two replicas making it at once, the first insert wins and both
		// read it back.
		if err := s.db.Clauses(clause.OnConflict{DoNothing: true}).Create(&Setting{Name: voteKeySetting, Value: hex.EncodeToString(key), CreatedAt: time.Now().UTC()}).Error; err != nil {
			return nil, fmt.Errorf("store: save %s: %w", voteKeySetting, err)
		}
	}
	return nil, fmt.Errorf("store: %s could not be made", voteKeySetting)
}
