package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/opsrunbook/runbook/plan"
)

// Freeze is a registered change freeze: its source and compiled form.
// Registering the same name again replaces it; deleting it lifts it.
type Freeze struct {
	Name      string    `gorm:"primaryKey;size:63" json:"name"`
	YAML      string    `gorm:"type:text;not null" json:"-"`
	Compiled  []byte    `gorm:"not null" json:"-"` // plan.Freeze as JSON
	Author    string    `gorm:"size:200;not null" json:"author"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// FreezeOf decodes the compiled freeze.
func (f *Freeze) FreezeOf() (*plan.Freeze, error) {
	var out plan.Freeze
	if err := json.Unmarshal(f.Compiled, &out); err != nil {
		return nil, fmt.Errorf("store: freeze %q: %w", f.Name, err)
	}
	return &out, nil
}

// PutFreeze registers f (replacing one of the same name) and audits it;
// the same source again changes nothing and records nothing.
func (s *Store) PutFreeze(src string, f *plan.Freeze, author string) (created, changed bool, err error) {
	b, err := json.Marshal(f)
	if err != nil {
		return false, false, err
	}
	defer s.shared.config.changed() // after the commit: a read before it is not kept
	err = s.db.Transaction(func(tx *gorm.DB) error {
		var old []Freeze
		if err := tx.Where("name = ?", f.Name).Find(&old).Error; err != nil {
			return err
		}
		created, changed = len(old) == 0, len(old) == 0 || old[0].YAML != src
		if !changed {
			return nil
		}
		row := Freeze{Name: f.Name, YAML: src, Compiled: b, Author: author}
		if err := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "name"}},
			DoUpdates: clause.AssignmentColumns([]string{"yaml", "compiled", "author", "updated_at"})}).Create(&row).Error; err != nil {
			return err
		}
		if err := notifyConfig(tx); err != nil {
			return err
		}
		return appendAudit(tx, AuditRecord{Actor: author, Action: ActionFreezeRegister, Target: f.Name, Detail: FreezeDetail{Reason: f.Reason, Windows: len(f.Windows)}})
	})
	return created, changed, err
}

// Freezes are the registered freezes, by name.
func (s *Store) Freezes() ([]Freeze, error) {
	var out []Freeze
	return out, s.reads.Order("name").Find(&out).Error
}

// FreezeNamed is one freeze, or ErrNotFound.
func (s *Store) FreezeNamed(name string) (*Freeze, error) {
	var f Freeze
	err := s.db.Where("name = ?", name).First(&f).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	return &f, err
}

// DeleteFreeze lifts a freeze and audits it; ErrNotFound when none has
// the name.
func (s *Store) DeleteFreeze(name, actor string) error {
	defer s.shared.config.changed()
	return s.db.Transaction(func(tx *gorm.DB) error {
		var old []Freeze
		if err := tx.Where("name = ?", name).Find(&old).Error; err != nil {
			return err
		}
		if len(old) == 0 {
			return ErrNotFound
		}
		detail := FreezeDetail{}
		if f, err := old[0].FreezeOf(); err == nil {
			detail = FreezeDetail{Reason: f.Reason, Windows: len(f.Windows)}
		}
		if err := tx.Where("name = ?", name).Delete(&Freeze{}).Error; err != nil {
			return err
		}
		if err := notifyConfig(tx); err != nil {
			return err
		}
		return appendAudit(tx, AuditRecord{Actor: actor, Action: ActionFreezeDelete, Target: name, Detail: detail})
	})
}

// CompiledFreezes are the registered freezes, compiled; a row that does
// not decode is an error.
func (s *Store) CompiledFreezes() ([]*plan.Freeze, error) {
	if f, ok := s.shared.config.compiledFreezes(); ok {
		return f, nil
	}
	gen, keep := s.shared.config.begin()
	at := time.Now()
	rows, err := s.Freezes()
	if err != nil {
		return nil, err
	}
	out := make([]*plan.Freeze, 0, len(rows))
	for i := range rows {
		f, err := rows[i].FreezeOf()
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	if keep {
		s.shared.config.keepFreezes(gen, at, out)
	}
	return out, nil
}

// SkipMemory is how long the store remembers a recorded schedule skip, so
// the syncer's later passes over the same fire record nothing (Temporal
// lists only a schedule's recent fires).
const SkipMemory = 30 * 24 * time.Hour

// RecordSkip audits a schedule fire a freeze held back, once per fire
// (fire is the launcher's Temporal run id); a second call for the same
// fire records nothing.
func (s *Store) RecordSkip(fire string, r AuditRecord) error {
	sum := sha256.Sum256([]byte(fire))
	now := time.Now().UTC()
	return s.db.Transaction(func(tx *gorm.DB) error {
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&Delivery{Hook: "schedule-skip", Digest: hex.EncodeToString(sum[:]),
			DeliveryID: fire, SignedAt: now, ExpiresAt: now.Add(SkipMemory)})
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		return appendAudit(tx, r)
	})
}
