package store

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// The models as they were when run id columns held 120 characters.

type oldRun struct {
	ID            string `gorm:"primaryKey;size:120" json:"id"`
	Runbook       string `gorm:"size:63;not null;index:run_runbook_created" json:"runbook"`
	Version       int    `gorm:"not null" json:"version"`
	Status        string `gorm:"size:20;not null;index" json:"status"`
	Params        []byte `json:"-"` // JSON
	Trigger       string `gorm:"size:20;not null;index" json:"trigger"`
	TriggerDetail string `gorm:"size:500" json:"triggerDetail,omitempty"`
	TriggeredBy   string `gorm:"size:200;not null" json:"triggeredBy"`
	// StartedBy is the authenticated caller (a user, system:schedule or
	// system:webhook): the starter approvals refuse, and the audit's actor.
	StartedBy      string  `gorm:"size:200;not null;default:''" json:"startedBy"`
	IdempotencyKey *string `gorm:"size:200;uniqueIndex" json:"-"`
	ConcurrencyKey string  `gorm:"size:300;index" json:"concurrencyKey,omitempty"`
	// Holds is "runbook/key" while a run with a concurrency key is
	// running, NULL otherwise: unique, so two starts cannot both hold it.
	Holds     *string    `gorm:"size:400;uniqueIndex" json:"-"`
	Error     string     `gorm:"type:text" json:"error,omitempty"`
	ErrorType string     `gorm:"size:100" json:"errorType,omitempty"`
	Outputs   []byte     `json:"-"` // JSON
	CreatedAt time.Time  `gorm:"index:run_runbook_created" json:"createdAt"`
	EndedAt   *time.Time `json:"endedAt,omitempty"`
}
type oldStepEvent struct {
	ID        uint       `gorm:"primaryKey" json:"-"`
	RunID     string     `gorm:"size:120;not null;uniqueIndex:step_run_step_item" json:"runId"`
	StepID    string     `gorm:"size:63;not null;uniqueIndex:step_run_step_item" json:"step"`
	Item      int        `gorm:"not null;default:-1;uniqueIndex:step_run_step_item" json:"item"` // -1 outside loops
	Kind      string     `gorm:"size:20" json:"kind"`
	Status    string     `gorm:"size:20;not null" json:"status"`
	Attempts  int        `json:"attempts"`
	StartedAt *time.Time `json:"startedAt,omitempty"`
	EndedAt   *time.Time `json:"endedAt,omitempty"`
	Outputs   []byte     `json:"-"` // JSON
	Error     string     `gorm:"type:text" json:"error,omitempty"`
	ErrorType string     `gorm:"size:100" json:"errorType,omitempty"`
	UpdatedAt time.Time  `json:"updatedAt"`
}
type oldVote struct {
	ID       uint   `gorm:"primaryKey" json:"-"`
	RunID    string `gorm:"size:120;not null;index" json:"runId"`
	StepID   string `gorm:"size:63;not null" json:"step"`
	Item     int    `gorm:"not null;default:-1" json:"item"`
	User     string `gorm:"size:200;not null" json:"user"`
	Decision string `gorm:"size:10;not null" json:"decision"`
	Comment  string `gorm:"type:text" json:"comment,omitempty"`
	// Status is pending from before the run is asked to count the vote
	// until it has (counted); a vote the run refuses is removed.
	Status string    `gorm:"size:10;not null;default:counted" json:"status"`
	Nonce  string    `gorm:"size:64;index" json:"-"` // of the vote's seal
	At     time.Time `json:"at"`
}

func (oldRun) TableName() string       { return "runs" }
func (oldStepEvent) TableName() string { return "step_events" }
func (oldVote) TableName() string      { return "votes" }

// makeOld creates the old tables in db with a run, its step and a vote.
func makeOld(t *testing.T, db *gorm.DB) {
	t.Helper()
	if err := db.AutoMigrate(&oldRun{}, &oldStepEvent{}, &oldVote{}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	end := at.Add(5 * time.Minute)
	for _, v := range []any{
		&oldRun{ID: "deploy-old", Runbook: "deploy", Version: 1, Status: "failed", Trigger: "api", TriggeredBy: "ann", StartedBy: "ann", Error: "boom", ErrorType: "ShellExitError", CreatedAt: at, EndedAt: &end},
		&oldStepEvent{RunID: "deploy-old", StepID: "ship", Item: -1, Kind: "action", Status: "failed", Attempts: 2},
		&oldVote{RunID: "deploy-old.sub", StepID: "gate", Item: -1, User: "bob", Decision: "approve", Comment: "ok", At: at},
	} {
		if err := db.Create(v).Error; err != nil {
			t.Fatal(err)
		}
	}
}

// TestRunIDColumnsMigrateKeepingData opens records made when run id
// columns held 120 characters: they then hold RunIDSize (a vote's run id
// is a sub-runbook run's, which can be longer), with every row kept.
func TestRunIDColumnsMigrateKeepingData(t *testing.T) {
	check := func(t *testing.T, s *Store, lengths func(table, column string) int) {
		r, err := s.Run("deploy-old")
		if err != nil || r.Status != "failed" || r.Error != "boom" || r.FailedStep != "" || r.Recorded != 0 || r.StartedBy != "ann" {
			t.Fatalf("run after the migration: %+v %v", r, err)
		}
		steps, err := s.Steps("deploy-old")
		if err != nil || len(steps) != 1 || steps[0].StepID != "ship" || steps[0].Attempts != 2 || steps[0].Phase != "" {
			t.Fatalf("steps after the migration: %+v %v", steps, err)
		}
		var votes []Vote
		if err := s.db.Find(&votes).Error; err != nil || len(votes) != 1 || votes[0].RunID != "deploy-old.sub" || votes[0].Comment != "ok" {
			t.Fatalf("votes after the migration: %+v %v", votes, err)
		}
		if lengths != nil {
			for _, tc := range [][2]string{{"runs", "id"}, {"step_events", "run_id"}, {"votes", "run_id"}} {
				if got := lengths(tc[0], tc[1]); got != RunIDSize {
					t.Errorf("%s.%s holds %d characters, want %d", tc[0], tc[1], got, RunIDSize)
				}
			}
		}
		if err := s.SaveStep(&StepEvent{RunID: "deploy-old", StepID: "each", Item: 0, Status: "running"}); err != nil {
			t.Fatal(err)
		}
		if steps, _ := s.Steps("deploy-old"); len(steps) != 2 || steps[1].Item != 0 {
			t.Errorf("item 0 after the migration: %+v", steps)
		}
		child := "deploy-" + strings.Repeat("x", 26) + strings.Repeat(".gate_step_with_a_long_name.9999", 20)
		if err := s.AddVote(&Vote{RunID: child, StepID: "gate", Item: -1, User: "ann", Decision: "approve", At: time.Now()}); err != nil {
			t.Errorf("a vote on a %d-character sub-runbook run id: %v", len(child), err)
		}
		var tl *TooLongError
		if err := s.AddVote(&Vote{RunID: strings.Repeat("x", RunIDSize+1), StepID: "gate", Item: -1, User: "ann", Decision: "approve", At: time.Now()}); !errors.As(err, &tl) {
			t.Errorf("a vote on a run id longer than the column: %v", err)
		}
	}
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "old.db")
		old, err := gorm.Open(sqlite.Dialector{DriverName: "sqlite", DSN: path}, &gorm.Config{Logger: logger.Discard})
		if err != nil {
			t.Fatal(err)
		}
		makeOld(t, old)
		if db, err := old.DB(); err == nil {
			db.Close()
		}
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		check(t, s, nil)
	})
	t.Run("postgres", func(t *testing.T) {
		_, schema := pgSchema(t, "rbmig")
		old, err := gorm.Open(postgres.Open(pgURL+"&search_path="+schema), &gorm.Config{Logger: logger.Discard})
		if err != nil {
			t.Fatal(err)
		}
		makeOld(t, old)
		s, err := Open(pgURL + "&search_path=" + schema)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		check(t, s, func(table, column string) int {
			var n int
			old.Raw(`SELECT character_maximum_length FROM information_schema.columns WHERE table_schema = ? AND table_name = ? AND column_name = ?`,
				schema, table, column).Scan(&n)
			return n
		})
	})
}
