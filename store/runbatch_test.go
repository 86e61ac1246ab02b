package store

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// Starts that insert at once share transactions, and each keeps its own
// outcome: a run whose idempotency key or concurrency hold another run
// has fails alone, the others are recorded with their audit entries.
func TestConcurrentRunInsertsKeepTheirOwnOutcome(t *testing.T) {
	eachDB(t, func(t *testing.T, st *Store) {
		now := time.Now().UTC().Truncate(time.Microsecond)
		key := "api:same"
		const n = 150
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := &Run{ID: fmt.Sprintf("b-%03d", i), Runbook: "b", Version: 1, Status: "running", Trigger: "api", TriggeredBy: "ann", StartedBy: "ann", CreatedAt: now}
				switch {
				case i%10 == 0: // 15 starts with one idempotency key: one run
					k := key
					r.IdempotencyKey = &k
				case i%10 == 1: // 15 starts with one concurrency key: one holds it
					r.ConcurrencyKey = "db-1"
				}
				_, errs[i] = st.CreateRun(r, map[string]any{"i": i})
			}()
		}
		wg.Wait()
		var dup, held, ok int
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ErrDuplicate) && i%10 == 0:
				dup++
			case errors.Is(err, ErrHeld) && i%10 == 1:
				held++
			default:
				t.Errorf("run %d: %v", i, err)
			}
		}
		if ok != n-14-14 || dup != 14 || held != 14 {
			t.Errorf("recorded %d, duplicate %d, held %d; want %d, 14, 14", ok, dup, held, n-28)
		}
		runs, _, err := st.Runs(RunFilter{Runbook: "b", Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		entries, _, err := st.AuditEntries(AuditFilter{Action: ActionRunStart, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if st.shared.runs.largest.Load() < 2 {
			t.Error("no two inserts shared a transaction")
		}
		if st.db.Dialector.Name() == "postgres" && st.shared.runs.atOnce.Load() == 0 {
			t.Error("Postgres took no batch in one statement")
		}
		if len(runs) != n-28 || len(entries) != n-28 {
			t.Errorf("%d run records and %d run.start audit entries, want %d of each", len(runs), len(entries), n-28)
		}
	})
}

// The records no key can refuse share one statement; when it fails (here
// a run id recorded before), they are inserted one by one, and only the
// one that cannot be recorded fails, its audit entry not written.
func TestRunInsertsOneStatementFallsBackOneByOne(t *testing.T) {
	eachDB(t, func(t *testing.T, st *Store) {
		now := time.Now().UTC().Truncate(time.Microsecond)
		run := func(i int) *Run {
			return &Run{ID: fmt.Sprintf("c-%02d", i), Runbook: "c", Version: 1, Status: "running", Trigger: "api", TriggeredBy: "ann", StartedBy: "ann", CreatedAt: now}
		}
		if _, err := st.CreateRun(run(7), nil); err != nil {
			t.Fatal(err)
		}
		for attempt := 0; st.shared.runs.largest.Load() < 2; attempt++ {
			if attempt == 5 {
				t.Fatal("no two inserts shared a transaction")
			}
			const n = 40
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := run(i)
					if i != 7 {
						r.ID = fmt.Sprintf("c-%d-%02d", attempt, i)
					}
					_, errs[i] = st.CreateRun(r, nil)
				}()
			}
			wg.Wait()
			for i, err := range errs {
				if (err != nil) != (i == 7) {
					t.Fatalf("attempt %d, run %d: %v", attempt, i, err)
				}
			}
		}
		runs, _, err := st.Runs(RunFilter{Runbook: "c", Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		entries, _, err := st.AuditEntries(AuditFilter{Runbook: "c", Action: ActionRunStart, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != len(entries) || len(runs)%39 != 1 {
			t.Errorf("%d run records and %d run.start audit entries, want 1 + 39 per attempt of each", len(runs), len(entries))
		}
	})
}
