package store

import (
	"errors"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"gorm.io/gorm"
)

// MaxRunBatch bounds how many run records one transaction inserts.
const MaxRunBatch = 64

// runBatch writes the run records that starts insert at the same time
// together, one batch at a time: a burst of starts
// otherwise paid a transaction each, one after another on SQLite's one
// writer, and on Postgres four round trips each, every one waiting for a
// connection of the pool.
type runBatch struct {
	in       chan *runInsert
	quit     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	largest  atomic.Int64 // the largest batch written, for tests
	atOnce   atomic.Int64 // the batches Postgres took in one statement, for tests
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

// writeRuns inserts a batch. The records no unique key can refuse (no
// idempotency key, no concurrency hold; their ids are new) go in one
// statement for the runs and one for their audit entries: on Postgres one
// statement for both (a data-modifying WITH, committed alone), on SQLite
// within the transaction. The others go each under a
// savepoint of its own, so that one a key refuses is rolled back and fails
// alone; should the one statement fail, its records go one by one too.
func (s *Store) writeRuns(batch []*runInsert) {
	errs := make([]error, len(batch))
	var plain, one []int
	for i, r := range batch {
		if r.run.IdempotencyKey == nil && r.run.Holds == nil {
			plain = append(plain, i)
		} else {
			one = append(one, i)
		}
	}
	switch {
	case len(plain) > 1 && s.db.Dialector.Name() == "postgres":
		if err := s.insertRunsAtOnce(batch, plain); err != nil {
			one = append(one, plain...)
		} else {
			s.shared.runs.atOnce.Add(1)
		}
		plain = nil
	case len(plain) == 1:
		one, plain = append(one, plain...), nil
	}
	inTx := append(slices.Clone(plain), one...)
	if len(inTx) > 0 {
		err := s.transaction(func(tx *gorm.DB) error {
			if len(inTx) == 1 {
				return insertRunTx(tx, batch[inTx[0]].run, batch[inTx[0]].audits)
			}
			if len(plain) > 0 {
				failed, err := underSavepoint(tx, func() error { return insertRunsTx(tx, batch, plain) })
				if err != nil {
					return err
				}
				if failed != nil {
					one = append(one, plain...)
				}
			}
			for _, i := range one {
				var err error
				if errs[i], err = underSavepoint(tx, func() error { return insertRunTx(tx, batch[i].run, batch[i].audits) }); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			for _, i := range inTx {
				errs[i] = err
			}
		}
	}
	for i, r := range batch {
		r.err <- errs[i]
	}
}

// bindVar is a Postgres placeholder.
var bindVar = regexp.MustCompile(`\$[0-9]+`)

// insertRunsAtOnce inserts the records of batch at idx and their audit
// entries in one Postgres statement, GORM's two inserts joined by WITH
// (the second's placeholders numbered after the first's).
func (s *Store) insertRunsAtOnce(batch []*runInsert, idx []int) error {
	runs, entries, err := batchRows(batch, idx)
	if err != nil {
		return err
	}
	dry := s.db.Session(&gorm.Session{DryRun: true, NewDB: true, SkipDefaultTransaction: true}) // (else each would BEGIN and COMMIT for nothing)
	rs := dry.Create(runs)
	es := dry.Create(entries)
	if rs.Error != nil || es.Error != nil {
		return errors.Join(rs.Error, es.Error)
	}
	n := len(rs.Statement.Vars)
	second := bindVar.ReplaceAllStringFunc(es.Statement.SQL.String(), func(v string) string {
		k, _ := strconv.Atoi(v[1:])
		return "$" + strconv.Itoa(k+n)
	})
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	ctx, cancel := s.bound(s.db.Statement.Context)
	defer cancel()
	_, err = sqlDB.ExecContext(ctx, "WITH runs_in AS ("+rs.Statement.SQL.String()+") "+second, append(rs.Statement.Vars, es.Statement.Vars...)...)
	return s.unavailable(err)
}

// underSavepoint runs fn under a savepoint, rolled back to when fn fails:
// failed is fn's error, err the savepoint's own.
func underSavepoint(tx *gorm.DB, fn func() error) (failed, err error) {
	if err := tx.Exec("SAVEPOINT run").Error; err != nil {
		return nil, err
	}
	if failed = fn(); failed != nil {
		if err := tx.Exec("ROLLBACK TO SAVEPOINT run").Error; err != nil {
			return failed, err
		}
	}
	return failed, tx.Exec("RELEASE SAVEPOINT run").Error
}

// insertRunsTx inserts the records of batch at idx and their audit
// entries, a statement each.
func insertRunsTx(tx *gorm.DB, batch []*runInsert, idx []int) error {
	runs, entries, err := batchRows(batch, idx)
	if err != nil {
		return err
	}
	if err := tx.Create(runs).Error; err != nil {
		return err
	}
	return tx.Create(entries).Error
}

// batchRows are the records of batch at idx and their audit entries
// (every run has one).
func batchRows(batch []*runInsert, idx []int) ([]*Run, []*AuditEntry, error) {
	runs := make([]*Run, 0, len(idx))
	var entries []*AuditEntry
	for _, i := range idx {
		runs = append(runs, batch[i].run)
		for _, a := range batch[i].audits {
			e, err := auditEntry(a)
			if err != nil {
				return nil, nil, err
			}
			entries = append(entries, e)
		}
	}
	return runs, entries, nil
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
