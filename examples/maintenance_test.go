package examples_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// db-maintenance vacuums the bloated table and leaves the other alone.
func TestDBMaintenanceEndToEnd(t *testing.T) {
	s := startStack(t)
	db := pgTestDatabase(t, "maint")
	psql(t, db,
		"CREATE TABLE events (id int) WITH (autovacuum_enabled = false)",
		"INSERT INTO events SELECT generate_series(1, 3000)",
		"DELETE FROM events WHERE id > 500",
		`CREATE TABLE "Users" (id int) WITH (autovacuum_enabled = false)`,
		`INSERT INTO "Users" SELECT generate_series(1, 3000)`,
		`DELETE FROM "Users" WHERE id > 2990`)
	// Each psql session flushes its statistics when it exits.
	waitFor(t, func() bool {
		return psqlValue(t, db, "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'events'") == "2500"
	})
	t.Setenv("RUNBOOK_SECRET_PG_DSN", pgAdmin+" dbname="+db)
	_, h := stateDir(t)

	res, errType, st := s.runPlan(t, example(t, "db-maintenance.yaml"), map[string]any{"min_dead_rows": 1000, "dead_ratio": 0.5})
	if errType != "" {
		t.Fatalf("maintenance failed: %s: %s", errType, st.Error)
	}
	if got := fmt.Sprint(res.Outputs["vacuumed"]); got != "[public.events]" {
		t.Errorf("vacuumed %s", got)
	}
	vacuumed := "SELECT relname || ':' || (last_vacuum IS NOT NULL) || ':' || n_dead_tup FROM pg_stat_user_tables ORDER BY relname"
	waitFor(t, func() bool { return psqlValue(t, db, vacuumed) == "Users:false:10\nevents:true:0" })

	// A transaction open longer than max_xact_age stops the run before
	// anything is vacuumed.
	psql(t, db, "DELETE FROM \"Users\"")
	hold := holdTransaction(t, db)
	time.Sleep(1500 * time.Millisecond)
	_, errType, st = s.runPlan(t, example(t, "db-maintenance.yaml"), map[string]any{"min_dead_rows": 1, "max_xact_age": "1s"})
	hold()
	if errType != "AssertionFailed" || stepStatus(st, "no_long_transaction") != "failed" || stepStatus(st, "vacuum") != "pending" {
		t.Errorf("long transaction: %s: %s; vacuum %s", errType, st.Error, stepStatus(st, "vacuum"))
	}
	if got := h.received(); len(got) != 1 || !strings.Contains(got[0], "database maintenance failed at no_long_transaction: a transaction has been open for") {
		t.Errorf("pages: %q", got)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
	}
}

// holdTransaction opens a transaction on db until the returned func ends it.
func holdTransaction(t *testing.T, db string) (end func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgAdmin+" dbname="+db)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := conn.Begin(ctx)
	if err == nil {
		_, err = tx.Exec(ctx, "SELECT 1")
	}
	if err != nil {
		t.Fatal(err)
	}
	return func() {
		tx.Rollback(ctx)
		conn.Close(ctx)
	}
}
