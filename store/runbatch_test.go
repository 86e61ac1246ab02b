package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Starts that insert at once share transactions, and each keeps its own
// outcome: a run whose idempotency key or concurrency hold another run
// has fails alone, the others are recorded with their audit entries.
func TestConcurrentRunInsertsKeepTheirOwnOutcome(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "batch.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
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
	if len(runs) != n-28 || len(entries) != n-28 {
		t.Errorf("%d run records and %d run.start audit entries, want %d of each", len(runs), len(entries), n-28)
	}
}
