package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/runbooks"
)

const pgURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// eachDB runs fn against a fresh SQLite file and a fresh Postgres schema.
func eachDB(t *testing.T, fn func(t *testing.T, s *Store)) {
	t.Run("sqlite", func(t *testing.T) {
		s, err := Open(filepath.Join(t.TempDir(), "runbook.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		fn(t, s)
	})
	t.Run("postgres", func(t *testing.T) {
		_, schema := pgSchema(t, "rbtest")
		s, err := Open(pgURL + "&search_path=" + schema)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		fn(t, s)
	})
}

// pgSchema makes a fresh schema named after prefix in the test database,
// dropped when the test ends; without Postgres the test is skipped.
func pgSchema(t *testing.T, prefix string) (admin *gorm.DB, schema string) {
	t.Helper()
	admin, err := gorm.Open(postgres.Open(pgURL), &gorm.Config{Logger: logger.Discard})
	if err == nil {
		err = admin.Exec("SELECT 1").Error
	}
	if err != nil {
		t.Skipf("Postgres at 127.0.0.1:5432 (database test) is unreachable: %v", err)
	}
	schema = fmt.Sprintf("%s_%d_%d", prefix, os.Getpid(), time.Now().UnixNano()%1e6)
	if err := admin.Exec("CREATE SCHEMA " + schema).Error; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec("DROP SCHEMA " + schema + " CASCADE") })
	return admin, schema
}

func planOf(t *testing.T, src string) *plan.Plan {
	t.Helper()
	p, _, err := runbooks.Build("x.yaml", []byte(src), runbooks.Options{Actions: activities.Catalog()})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const v1 = "apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: nightly}\nspec:\n  steps: [{id: a, sleep: 1s}]\n"

func TestRunbookVersionsAreImmutable(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		v, created, err := s.SaveRunbook(v1, planOf(t, v1), "ann")
		if err != nil || !created || v.Version != 1 {
			t.Fatalf("first save: %+v, %v, %v", v, created, err)
		}
		v, created, err = s.SaveRunbook(v1, planOf(t, v1), "bob")
		if err != nil || created || v.Version != 1 || v.Author != "ann" {
			t.Fatalf("same content: %+v, %v, %v", v, created, err)
		}
		v2 := "apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: nightly, title: Nightly}\nspec:\n  steps: [{id: a, sleep: 2s}]\n"
		v, created, err = s.SaveRunbook(v2, planOf(t, v2), "bob")
		if err != nil || !created || v.Version != 2 {
			t.Fatalf("changed content: %+v, %v, %v", v, created, err)
		}
		latest, err := s.Runbook("nightly", 0)
		if err != nil || latest.Version != 2 || latest.Title != "Nightly" {
			t.Fatalf("latest: %+v, %v", latest, err)
		}
		p, err := latest.PlanOf()
		if err != nil || p.Steps[0].Sleep.D != 2*time.Second {
			t.Errorf("plan: %+v, %v", p, err)
		}
		first, _ := s.Runbook("nightly", 1)
		if first.YAML != v1 {
			t.Error("version 1 changed")
		}
		all, err := s.Runbooks()
		if err != nil || len(all) != 1 || all[0].Version != 2 {
			t.Errorf("list: %+v, %v", all, err)
		}
		if vs, _ := s.Versions("nightly"); len(vs) != 2 || vs[0].Version != 2 {
			t.Errorf("versions: %+v", vs)
		}
		if _, err := s.Runbook("nope", 0); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing: %v", err)
		}
	})
}

func TestRunsIdempotencyFiltersAndPaging(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		key := "deploy-42"
		base := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
		r, err := s.CreateRun(&Run{ID: "nightly-1", Runbook: "nightly", Version: 1, Status: "running", Trigger: "api", TriggeredBy: "ann", IdempotencyKey: &key, CreatedAt: base}, map[string]any{"keep": 7})
		if err != nil {
			t.Fatal(err)
		}
		again, err := s.CreateRun(&Run{ID: "nightly-2", Runbook: "nightly", Version: 1, Status: "running", Trigger: "api", TriggeredBy: "ann", IdempotencyKey: &key}, nil)
		if !errors.Is(err, ErrDuplicate) || again.ID != r.ID {
			t.Fatalf("same key: %+v, %v", again, err)
		}
		for i := 2; i <= 6; i++ {
			trigger := "schedule"
			if i%2 == 0 {
				trigger = "alert"
			}
			if _, err := s.CreateRun(&Run{ID: fmt.Sprintf("nightly-%d", i+1), Runbook: "nightly", Version: 1, Status: "succeeded", Trigger: trigger, TriggeredBy: "cron", CreatedAt: base.Add(time.Duration(i) * time.Minute)}, nil); err != nil {
				t.Fatal(err)
			}
		}
		page, next, err := s.Runs(RunFilter{Runbook: "nightly", Limit: 4})
		if err != nil || len(page) != 4 || next == "" || page[0].ID != "nightly-7" {
			t.Fatalf("page 1: %v, %q, %v", ids(page), next, err)
		}
		page2, next2, err := s.Runs(RunFilter{Runbook: "nightly", Limit: 4, Cursor: next})
		if err != nil || len(page2) != 2 || next2 != "" || page2[1].ID != "nightly-1" {
			t.Fatalf("page 2: %v, %q, %v", ids(page2), next2, err)
		}
		alerts, _, _ := s.Runs(RunFilter{Trigger: "alert"})
		if len(alerts) != 3 {
			t.Errorf("alert runs: %v", ids(alerts))
		}
		recent, _, _ := s.Runs(RunFilter{Since: base.Add(4 * time.Minute), Status: "succeeded"})
		if len(recent) != 3 {
			t.Errorf("recent: %v", ids(recent))
		}
		if err := s.FinishRun("nightly-1", "failed", "ShellExitError", "exit code 1", nil, base.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Run("nightly-1")
		if got.Status != "failed" || got.ErrorType != "ShellExitError" || got.EndedAt == nil {
			t.Errorf("finished run: %+v", got)
		}
	})
}

func ids(rs []Run) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func TestTimelineVotesAndAudit(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		now := time.Now().UTC()
		for _, st := range []StepEvent{
			{RunID: "r1", StepID: "a", Item: -1, Status: "running", StartedAt: &now},
			{RunID: "r1", StepID: "a", Item: -1, Status: "succeeded", Attempts: 2, StartedAt: &now, EndedAt: &now},
			{RunID: "r1", StepID: "b", Item: 0, Status: "running"},
		} {
			if err := s.SaveStep(&st); err != nil {
				t.Fatal(err)
			}
		}
		steps, err := s.Steps("r1")
		if err != nil || len(steps) != 2 || steps[0].Status != "succeeded" || steps[0].Attempts != 2 || steps[0].Item != -1 || steps[1].Item != 0 {
			t.Fatalf("steps: %+v, %v", steps, err)
		}
		// Item 0 is item 0, not the column's default (-1).
		if err := s.AddVote(&Vote{RunID: "r1", StepID: "each_gate", Item: 0, User: "bob", Decision: "approve", Status: VotePending, At: now}); err != nil {
			t.Fatal(err)
		}
		if v, err := s.VoteOf("r1", "each_gate", 0, "bob"); err != nil || v.Item != 0 || v.Status != VotePending {
			t.Errorf("a vote on item 0: %+v %v", v, err)
		}
		if err := s.AddVote(&Vote{RunID: "r1", StepID: "gate", Item: -1, User: "ann", Decision: "approve", At: now}); err != nil {
			t.Fatal(err)
		}
		if vs, _ := s.Votes("r1"); len(vs) != 2 || vs[1].User != "ann" || vs[1].Status != VoteCounted {
			t.Errorf("votes: %+v", vs)
		}
		if err := s.Append(AuditRecord{Actor: "ann", Action: ActionApprovalVote, Target: "r1/gate", Run: "r1", Detail: VoteDetail{Step: "gate", Decision: "approve"}}); err != nil {
			t.Fatal(err)
		}
		log, err := s.AuditLog("approval.", 10)
		if err != nil || len(log) != 1 || log[0].Detail != `{"step":"gate","decision":"approve"}` || log[0].Outcome != AuditOK || log[0].Run != "r1" {
			t.Errorf("audit: %+v, %v", log, err)
		}
	})
}

func TestTokensStoreOnlyAHash(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		secret, tok, err := s.CreateToken("ann", []string{"operator", "approver"}, []string{"change-board"})
		if err != nil {
			t.Fatal(err)
		}
		var stored Token
		if err := s.db.First(&stored, tok.ID).Error; err != nil || stored.Hash == secret || stored.Hash != hashToken(secret) {
			t.Fatalf("stored token: %+v", stored)
		}
		id, err := s.Authenticate(secret)
		if err != nil || id.User != "ann" || !id.Has("approver") || id.Has("author") || id.Groups[0] != "change-board" {
			t.Fatalf("identity: %+v, %v", id, err)
		}
		if _, err := s.Authenticate(secret + "x"); !errors.Is(err, ErrBadToken) {
			t.Errorf("wrong secret: %v", err)
		}
		if _, err := s.RevokeToken("root", tok.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(secret); !errors.Is(err, ErrBadToken) {
			t.Errorf("revoked: %v", err)
		}
		if _, _, err := s.CreateToken("bob", []string{"root"}, nil); err == nil {
			t.Error("an unknown role was accepted")
		}
	})
}

// A SQLite path is a path, whatever it holds: '#' and '%' once cut it
// short and two stores shared one file.
func TestSQLitePathsWithURICharacters(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a#1/run book.db", "a#2/run book.db", "100%/runbook.db"} {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, created, err := s.SaveRunbook(v1, planOf(t, v1), "ann"); err != nil || !created {
			t.Errorf("%s: created %v, %v", name, created, err)
		}
		s.Close()
		if _, err := os.Stat(path); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// A running run holds its concurrency key: a second running run with the
// same key is refused with the holder, until the first ends.
func TestRunsHoldTheirConcurrencyKey(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		run := func(id, key string) (*Run, error) {
			return s.CreateRun(&Run{ID: id, Runbook: "release", Version: 1, Status: "running", Trigger: "api", TriggeredBy: "ann", ConcurrencyKey: key}, nil)
		}
		if _, err := run("r1", "api"); err != nil {
			t.Fatal(err)
		}
		if holder, err := run("r2", "api"); !errors.Is(err, ErrHeld) || holder.ID != "r1" {
			t.Fatalf("same key: %+v, %v", holder, err)
		}
		// Each recorded run is audited with it; the refused one is not.
		if log, _ := s.AuditLog("run.start", 10); len(log) != 1 || log[0].Target != "r1" || log[0].Actor != "ann" || !strings.Contains(log[0].Detail, `"trigger":"api"`) {
			t.Errorf("audit: %+v", log)
		}
		if _, err := run("r3", "db"); err != nil {
			t.Errorf("another key: %v", err)
		}
		for _, id := range []string{"n1", "n2"} { // runs without a key hold nothing
			if _, err := run(id, ""); err != nil {
				t.Errorf("no key: %v", err)
			}
		}
		if err := s.FinishRun("r1", "succeeded", "", "", nil, time.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := run("r4", "api"); err != nil {
			t.Errorf("after the holder ended: %v", err)
		}
		if err := s.SetStatus("r4", "cancelled"); err != nil {
			t.Fatal(err)
		}
		if _, err := run("r5", "api"); err != nil {
			t.Errorf("after the holder was cancelled: %v", err)
		}
	})
}
