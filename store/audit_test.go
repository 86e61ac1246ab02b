package store

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// The database itself refuses to change or remove an audit entry: an
// UPDATE and a DELETE through raw SQL fail (on Postgres a TRUNCATE too),
// and the rows are as they were.
func TestAuditIsAppendOnly(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		for _, who := range []string{"ann", "bob"} {
			if err := s.Append(AuditRecord{Actor: who, Action: ActionRunCancel, Target: "r1", Run: "r1", Runbook: "rb", Detail: CancelDetail{Reason: "stuck"}}); err != nil {
				t.Fatal(err)
			}
		}
		before, _ := s.AuditLog("", 10)
		attacks := []string{
			"UPDATE audit_entries SET actor = 'mallory'",
			"UPDATE audit_entries SET outcome = 'refused' WHERE id = 1",
			"DELETE FROM audit_entries WHERE actor = 'ann'",
			"DELETE FROM audit_entries",
		}
		if s.db.Dialector.Name() == "postgres" {
			attacks = append(attacks, "TRUNCATE audit_entries")
		}
		for _, q := range attacks {
			err := s.db.Exec(q).Error
			if err == nil || !strings.Contains(err.Error(), "audit entries are append-only") {
				t.Errorf("%s: %v, want the append-only refusal", q, err)
			}
		}
		after, _ := s.AuditLog("", 10)
		if len(before) != 2 || !reflect.DeepEqual(before, after) {
			t.Errorf("the entries changed:\n%+v\n%+v", before, after)
		}
		// Opening the store again (a restart, another replica) keeps them so.
		if err := s.migrateAudit(); err != nil {
			t.Fatal(err)
		}
		if err := s.db.Exec("DELETE FROM audit_entries").Error; err == nil {
			t.Error("a DELETE passed after a second migration")
		}
	})
}

// Append takes only the actions the documentation lists, each with its
// own detail type; long values are cut to what the columns hold.
func TestAppendChecksActionAndDetail(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		if err := s.Append(AuditRecord{Actor: "ann", Action: "run.delete", Detail: CancelDetail{}}); err == nil || err.Error() != `store: audit: unknown action "run.delete"` {
			t.Errorf("unknown action: %v", err)
		}
		if err := s.Append(AuditRecord{Actor: "ann", Action: ActionRunEvent, Detail: map[string]string{"payload": "x"}}); err == nil ||
			err.Error() != "store: audit: action run.event takes a store.EventDetail detail, not map[string]string" {
			t.Errorf("another detail type: %v", err)
		}
		long := strings.Repeat("é", 2000)
		if err := s.Append(AuditRecord{Actor: "ann", Action: ActionRunStart, Target: long, Runbook: "rb", Refused: long, Detail: RunStartDetail{Trigger: "api"}}); err != nil {
			t.Fatal(err)
		}
		log, _ := s.AuditLog("", 1)
		if got := log[0]; Length(got.Target) != AuditTargetSize || Length(got.Reason) != MaxAuditReason || !strings.HasSuffix(got.Reason, "…") || got.Outcome != AuditRefused {
			t.Errorf("cut: target %d, reason %d, outcome %s", Length(got.Target), Length(got.Reason), got.Outcome)
		}
	})
}

// The filters select, and pages go newest first by id with no entry twice
// or left out.
func TestAuditFiltersAndPaging(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		for i := range 7 {
			r := AuditRecord{Actor: []string{"ann", "bob"}[i%2], Action: ActionRunStart, Target: fmt.Sprintf("r%d", i), Run: fmt.Sprintf("r%d", i), Runbook: "deploy",
				Detail: RunStartDetail{Version: 1, Trigger: "api", TriggeredBy: "ann"}}
			if i == 6 {
				r.Runbook, r.Refused = "other", "invalid params"
			}
			if err := s.Append(r); err != nil {
				t.Fatal(err)
			}
		}
		var ids []uint
		var before uint
		for page := 0; ; page++ {
			got, more, err := s.AuditEntries(AuditFilter{Runbook: "deploy", Limit: 4, Before: before})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range got {
				ids = append(ids, e.ID)
			}
			if !more {
				break
			}
			before = got[len(got)-1].ID
		}
		if want := []uint{6, 5, 4, 3, 2, 1}; !reflect.DeepEqual(ids, want) {
			t.Errorf("pages: %v, want %v", ids, want)
		}
		got, _, _ := s.AuditEntries(AuditFilter{Actor: "bob", Run: "r3"})
		if len(got) != 1 || got[0].Target != "r3" {
			t.Errorf("actor and run: %+v", got)
		}
		got, _, _ = s.AuditEntries(AuditFilter{Outcome: AuditRefused})
		if len(got) != 1 || got[0].Runbook != "other" || got[0].Reason != "invalid params" {
			t.Errorf("refused: %+v", got)
		}
		if got, _, _ = s.AuditEntries(AuditFilter{Since: time.Now().Add(time.Hour)}); len(got) != 0 {
			t.Errorf("since the future: %+v", got)
		}
		if got, _, _ = s.AuditEntries(AuditFilter{Until: time.Now().Add(time.Hour), Hide: []string{ActionRunStart}}); len(got) != 0 {
			t.Errorf("hidden actions: %+v", got)
		}
	})
}

// oldAuditTable is the audit table as releases before the run, runbook,
// outcome and reason columns made it.
const oldAuditTable = `CREATE TABLE audit_entries (id %s PRIMARY KEY, at timestamp, actor varchar(200) NOT NULL,
action varchar(60) NOT NULL, target varchar(300), detail text)`

// A database written before the audit's new columns keeps its entries:
// they read as ok, and get their run or runbook from their targets.
func TestAuditMigrationKeepsOldEntries(t *testing.T) {
	check := func(t *testing.T, s *Store) {
		log, err := s.AuditLog("", 10)
		if err != nil || len(log) != 3 {
			t.Fatalf("entries: %+v %v", log, err)
		}
		got := map[string][2]string{}
		for _, e := range log {
			if e.Outcome != AuditOK {
				t.Errorf("%s: outcome %q", e.Action, e.Outcome)
			}
			got[e.Action] = [2]string{e.Run, e.Runbook}
		}
		want := map[string][2]string{"run.cancel": {"deploy-01", ""}, "approval.vote": {"deploy-01", ""}, "schedule.pause": {"", "deploy"}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("scopes: %v, want %v", got, want)
		}
		if err := s.db.Exec("DELETE FROM audit_entries").Error; err == nil {
			t.Error("the migrated table takes a DELETE")
		}
	}
	rows := `INSERT INTO audit_entries (at, actor, action, target, detail) VALUES
(CURRENT_TIMESTAMP, 'ann', 'run.cancel', 'deploy-01', ''),
(CURRENT_TIMESTAMP, 'bob', 'approval.vote', 'deploy-01.child/gate', '{"decision":"approve"}'),
(CURRENT_TIMESTAMP, 'ann', 'schedule.pause', 'deploy/nightly', '')`
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "old.db")
		db, err := gorm.Open(sqlite.Dialector{DriverName: "sqlite", DSN: sqliteDSN(path)}, &gorm.Config{Logger: logger.Discard})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Exec(fmt.Sprintf(oldAuditTable, "integer")).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Exec(rows).Error; err != nil {
			t.Fatal(err)
		}
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		check(t, s)
	})
	t.Run("postgres", func(t *testing.T) {
		_, schema := pgSchema(t, "rbold")
		old, err := gorm.Open(postgres.Open(pgURL+"&search_path="+schema), &gorm.Config{Logger: logger.Discard})
		if err != nil {
			t.Fatal(err)
		}
		if err := old.Exec(fmt.Sprintf(oldAuditTable, "bigserial")).Error; err != nil {
			t.Fatal(err)
		}
		if err := old.Exec(rows).Error; err != nil {
			t.Fatal(err)
		}
		s, err := Open(pgURL + "&search_path=" + schema)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		check(t, s)
	})
}

// docs/operations.md lists the audit's actions exactly as AuditActions
// has them.
func TestAuditActionsAreDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), AuditActionsMarkdown()) {
		t.Errorf("docs/operations.md's audit table is stale; put this in it:\n%s", AuditActionsMarkdown())
	}
}

// oldAuditRows fills the old audit table with n entries of each kind of
// target, in one statement.
func oldAuditRows(t *testing.T, db *gorm.DB, n int) {
	t.Helper()
	q := fmt.Sprintf(`INSERT INTO audit_entries (at, actor, action, target, detail)
WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < %d)
SELECT CURRENT_TIMESTAMP, 'ann',
	CASE i %% 5 WHEN 0 THEN 'run.cancel' WHEN 1 THEN 'approval.vote' WHEN 2 THEN 'schedule.pause' WHEN 3 THEN 'runbook.register' ELSE 'token.create' END,
	CASE i %% 5 WHEN 0 THEN 'deploy-' || i WHEN 1 THEN 'deploy-' || i || '.child.2/gate' WHEN 2 THEN 'deploy/nightly' WHEN 3 THEN 'deploy v' || i ELSE 'tok' END,
	'' FROM seq`, n)
	if err := db.Exec(q).Error; err != nil {
		t.Fatal(err)
	}
}

// A large old audit table migrates (each statement under the query
// timeout, or open fails): each entry gets the run or runbook its target
// names. Its speed is not asserted here: a loaded machine is slower.
func TestAuditBackfillOfManyEntries(t *testing.T) {
	const n = 100000
	check := func(t *testing.T, open func() (*Store, error)) {
		start := time.Now()
		s, err := open()
		if err != nil {
			t.Fatalf("open after %v: %v", time.Since(start), err)
		}
		defer s.Close()
		var got []struct{ Action, Run, Runbook string }
		if err := s.db.Raw(`SELECT action, run, runbook FROM audit_entries WHERE id IN (5, 6, 7, 8, 9)  ORDER BY id`).Scan(&got).Error; err != nil {
			t.Fatal(err)
		}
		want := []struct{ Action, Run, Runbook string }{{"run.cancel", "deploy-5", ""}, {"approval.vote", "deploy-6", ""},
			{"schedule.pause", "", "deploy"}, {"runbook.register", "", "deploy"}, {"token.create", "", ""}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("entries 5-9: %+v\nwant %+v", got, want)
		}
		var blank int64
		s.db.Raw(`SELECT count(*) FROM audit_entries WHERE run = '' AND runbook = '' AND action <> 'token.create'`).Scan(&blank)
		if blank != 0 {
			t.Errorf("%d entries without a run or runbook", blank)
		}
	}
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "old.db")
		db, err := gorm.Open(sqlite.Dialector{DriverName: "sqlite", DSN: sqliteDSN(path)}, &gorm.Config{Logger: logger.Discard})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Exec(fmt.Sprintf(oldAuditTable, "integer")).Error; err != nil {
			t.Fatal(err)
		}
		oldAuditRows(t, db, n)
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
		check(t, func() (*Store, error) { return Open(path) })
	})
	t.Run("postgres", func(t *testing.T) {
		_, schema := pgSchema(t, "rbmany")
		old, err := gorm.Open(postgres.Open(pgURL+"&search_path="+schema), &gorm.Config{Logger: logger.Discard})
		if err != nil {
			t.Fatal(err)
		}
		if err := old.Exec(fmt.Sprintf(oldAuditTable, "bigserial")).Error; err != nil {
			t.Fatal(err)
		}
		oldAuditRows(t, old, n)
		check(t, func() (*Store, error) { return Open(pgURL + "&search_path=" + schema) })
	})
}

// oldTargetEntry is the audit entry as it was when targets held 300
// characters.
type oldTargetEntry struct {
	ID      uint      `gorm:"primaryKey"`
	At      time.Time `gorm:"index"`
	Actor   string    `gorm:"size:200;not null;index"`
	Action  string    `gorm:"size:60;not null;index"`
	Target  string    `gorm:"size:300"`
	Run     string    `gorm:"size:120;not null;default:'';index"`
	Runbook string    `gorm:"size:63;not null;default:'';index"`
	Outcome string    `gorm:"size:10;not null;default:ok"`
	Reason  string    `gorm:"type:text"`
	Detail  string    `gorm:"type:text"`
}

func (oldTargetEntry) TableName() string { return "audit_entries" }

// A trail made when targets held 300 characters keeps its entries and its
// triggers, and then holds a vote's target on the longest run id.
func TestAuditTargetsWiden(t *testing.T) {
	if got := Size(AuditEntry{}, "Target"); got != AuditTargetSize {
		t.Fatalf("Target holds %d, want %d", got, AuditTargetSize)
	}
	check := func(t *testing.T, dsn string, length func() int) {
		old, err := open(dsn, []any{&oldTargetEntry{}, &Run{}}, true)
		if err != nil {
			t.Fatal(err)
		}
		if err := old.Append(AuditRecord{Actor: "ann", Action: ActionRunCancel, Target: "deploy-01", Run: "deploy-01", Detail: CancelDetail{}}); err != nil {
			t.Fatal(err)
		}
		old.Close()
		s, err := Open(dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if length != nil {
			if n := length(); n != AuditTargetSize {
				t.Errorf("target holds %d characters, want %d", n, AuditTargetSize)
			}
		}
		target := strings.Repeat("r", RunIDSize) + "/" + strings.Repeat("s", 63)
		vote := &Vote{RunID: target[:RunIDSize], StepID: target[RunIDSize+1:], Item: -1, User: "bob", Decision: "approve"}
		if err := s.Append(VoteAudit(vote, "r", "deploy", "", "", 0)); err != nil {
			t.Fatal(err)
		}
		log, err := s.AuditLog("", 10)
		if err != nil || len(log) != 2 || log[1].Target != "deploy-01" || log[0].Target != target {
			t.Fatalf("entries: %d %v", len(log), err)
		}
		if err := s.db.Exec("UPDATE audit_entries SET actor = 'eve'").Error; err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("an UPDATE after the migration: %v", err)
		}
	}
	t.Run("sqlite", func(t *testing.T) { check(t, filepath.Join(t.TempDir(), "old.db"), nil) })
	t.Run("postgres", func(t *testing.T) {
		admin, schema := pgSchema(t, "rbwide")
		check(t, pgURL+"&search_path="+schema, func() int {
			var n int
			admin.Raw(`SELECT character_maximum_length FROM information_schema.columns WHERE table_schema = ? AND table_name = 'audit_entries' AND column_name = 'target'`, schema).Scan(&n)
			return n
		})
	})
}
