package store

import (
	"errors"
	"sync"
	"sync/atomic"

	"gorm.io/gorm"
)

// MaxRunBatch bounds how many run records one SQLite transaction inserts.
const MaxRunBatch = 64

// runBatch writes the run records that starts insert at the same time in
// one transaction, each under a savepoint of its own: on SQLite, where
// every write waits for the one writer, a burst of starts otherwise paid
// a commit each, one after another. Postgres commits in parallel and does
// not use it.
type runBatch struct {
	in       chan *runInsert
	quit     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	largest  atomic.Int64 // the largest batch written, for tests
}

// runInsert is one run record to insert, with its audit entries.
type runInsert struct {
	run    *Run
	audits []AuditRecord
	err    chan error
}

var errClosed = errors.New("store: closed")

func (s *Store) startRunBatch() {
	b := &runBatch{in: make(chan *runInsert), quit: make(chan struct{}), done: make(chan struct{})}
	s.shared.runs = b
	go func() {
		defer close(b.done)
		for {
			var first *runInsert
			select {
			case first = <-b.in:
			case <-b.quit:
				return
			}
			batch := []*runInsert{first}
		more:
			for len(batch) < MaxRunBatch {
				select {
				case r := <-b.in:
					batch = append(batch, r)
				default:
					break more
				}
			}
			if int64(len(batch)) > b.largest.Load() {
				b.largest.Store(int64(len(batch)))
			}
			s.writeRuns(batch)
		}
	}()
}

func (b *runBatch) stop() {
	b.stopOnce.Do(func() { close(b.quit) })
	<-b.done
}

// insertRun inserts r and its audit entries in one transaction, which it
// may share with other starts' (each keeps its own outcome).
func (s *Store) insertRun(r *Run, audits []AuditRecord) error {
	b := s.shared.runs
	if b == nil {
		return s.transaction(func(tx *gorm.DB) error { return insertRunTx(tx, r, audits) })
	}
	req := &runInsert{run: r, audits: audits, err: make(chan error, 1)}
	select {
	case b.in <- req:
	case <-b.quit:
		return errClosed
	}
	return <-req.err
}

// writeRuns inserts a batch: a record that fails (a unique key another run
// holds) is rolled back to its savepoint and fails alone.
func (s *Store) writeRuns(batch []*runInsert) {
	errs := make([]error, len(batch))
	err := s.transaction(func(tx *gorm.DB) error {
		if len(batch) == 1 {
			return insertRunTx(tx, batch[0].run, batch[0].audits)
		}
		for i, r := range batch {
			if err := tx.Exec("SAVEPOINT run").Error; err != nil {
				return err
			}
			if errs[i] = insertRunTx(tx, r.run, r.audits); errs[i] != nil {
				if err := tx.Exec("ROLLBACK TO SAVEPOINT run").Error; err != nil {
					return err
				}
			}
			if err := tx.Exec("RELEASE SAVEPOINT run").Error; err != nil {
				return err
			}
		}
		return nil
	})
	for i, r := range batch {
		if err != nil {
			r.err <- err
		} else {
			r.err <- errs[i]
		}
	}
}

func insertRunTx(tx *gorm.DB, r *Run, audits []AuditRecord) error {
	if err := tx.Create(r).Error; err != nil {
		return err
	}
	for _, a := range audits {
		if err := appendAudit(tx, a); err != nil {
			return err
		}
	}
	return nil
}
