package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/opsrunbook/runbook/plan"

	"gorm.io/gorm"
)

// SaveRunbook records a compiled runbook. A new version is made only when
// the content changes: its YAML, or an embedded child's (VersionHash);
// created says whether it was.
func (s *Store) SaveRunbook(yaml string, p *plan.Plan, author string) (v *RunbookVersion, created bool, err error) {
	planJSON, err := json.Marshal(p)
	if err != nil {
		return nil, false, fmt.Errorf("store: plan: %w", err)
	}
	hash := VersionHash(p)
	err = s.transaction(func(tx *gorm.DB) error {
		var same RunbookVersion
		if err := tx.Where("name = ? AND hash = ?", p.Name, hash).Order("version DESC").First(&same).Error; err == nil {
			v = &same
			return nil
		} else if err != gorm.ErrRecordNotFound {
			return err
		}
		if hash != p.Hash {
			// A version saved before VersionHash keyed it by its YAML alone:
			// the same one if its embedded children are the same.
			var old RunbookVersion
			if err := tx.Where("name = ? AND hash = ?", p.Name, p.Hash).First(&old).Error; err == nil {
				if p, err := old.PlanOf(); err == nil && VersionHash(p) == hash {
					v = &old
					return nil
				}
			} else if err != gorm.ErrRecordNotFound {
				return err
			}
		}
		var latest int
		if err := tx.Model(&RunbookVersion{}).Where("name = ?", p.Name).Select("COALESCE(MAX(version), 0)").Scan(&latest).Error; err != nil {
			return err
		}
		v = &RunbookVersion{Name: p.Name, Version: latest + 1, Hash: hash, YAML: yaml, Plan: planJSON, Title: p.Title, Author: author}
		created = true
		if err := tx.Create(v).Error; err != nil {
			return err
		}
		return notifyConfig(tx)
	})
	if created {
		s.shared.config.changed()
	}
	if err != nil {
		return nil, false, fmt.Errorf("store: save runbook %s: %w", p.Name, err)
	}
	return v, created, nil
}

// VersionHash identifies a version's content: the plan's hash of its YAML
// when it embeds no sub-runbook, else a SHA-256 over it and each embedded
// child's VersionHash, so a parent applied again after its child changed
// becomes a new version that embeds the new child.
func VersionHash(p *plan.Plan) string {
	var children []string
	p.Walk(func(s *plan.Step) bool {
		if s.Runbook != nil && s.Runbook.Plan != nil {
			children = append(children, s.Runbook.Name+" "+VersionHash(s.Runbook.Plan))
		}
		return true
	})
	if len(children) == 0 {
		return p.Hash
	}
	sum := sha256.Sum256([]byte(p.Hash + "\n" + strings.Join(children, "\n")))
	return hex.EncodeToString(sum[:])
}

// Runbook returns a runbook's version; version 0 means the latest.
func (s *Store) Runbook(name string, version int) (*RunbookVersion, error) {
	var gen uint64
	var keep bool
	if version == 0 {
		if v, ok := s.shared.config.latestOf(name); ok {
			return &v, nil
		}
		gen, keep = s.shared.config.begin()
	}
	at := time.Now()
	q := s.reads.Where("name = ?", name)
	if version > 0 {
		q = q.Where("version = ?", version)
	}
	var v RunbookVersion
	if err := q.Order("version DESC").First(&v).Error; err != nil {
		return nil, notFound(err)
	}
	if keep {
		s.shared.config.keepLatest(gen, at, v)
	}
	return &v, nil
}

// PlanOf decodes a version's plan.
func (v *RunbookVersion) PlanOf() (*plan.Plan, error) {
	var p plan.Plan
	if err := json.Unmarshal(v.Plan, &p); err != nil {
		return nil, fmt.Errorf("plan of %s v%d: %w", v.Name, v.Version, err)
	}
	return &p, nil
}

// Runbooks lists the latest version of every runbook, by name.
func (s *Store) Runbooks() ([]RunbookVersion, error) {
	var out []RunbookVersion
	latest := s.db.Model(&RunbookVersion{}).Select("name, MAX(version) AS version").Group("name")
	err := s.db.Joins("JOIN (?) AS l ON l.name = runbook_versions.name AND l.version = runbook_versions.version", latest).
		Order("runbook_versions.name").Find(&out).Error
	return out, err
}

// RunbookNames lists the names of the registered runbooks, sorted.
func (s *Store) RunbookNames() ([]string, error) {
	var out []string
	err := s.db.Model(&RunbookVersion{}).Distinct("name").Order("name").Pluck("name", &out).Error
	return out, err
}

// Versions lists every version of a runbook, newest first.
func (s *Store) Versions(name string) ([]RunbookVersion, error) {
	var out []RunbookVersion
	err := s.db.Where("name = ?", name).Order("version DESC").Find(&out).Error
	return out, err
}
