package store

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"
)

// DefaultQueryTimeout bounds each statement and each transaction whose
// context has no earlier deadline: a partitioned database fails the
// request with an *UnavailableError instead of holding it (and a pooled
// connection) until TCP gives up.
const DefaultQueryTimeout = 5 * time.Second

// shared is what every Store made by WithContext shares.
type shared struct {
	timeoutNS atomic.Int64
	lastUse   *lastUse
	runs      *runBatch
	records   atomic.Uint64 // RecordsGeneration
	config    *configCache  // the latest versions, freezes and (Postgres) tokens
	// tokenByHash is SQLite's token read, prepared once on the read pool:
	// parsing it cost more than running it (a read waited 11 ms in a burst
	// of starts, 1 ms prepared). pgx prepares Postgres's itself.
	tokenOnce   sync.Once
	tokenByHash *sql.Stmt
}

func (s *shared) timeout() time.Duration { return time.Duration(s.timeoutNS.Load()) }

// SetQueryTimeout changes the bound of each statement and transaction.
func (s *Store) SetQueryTimeout(d time.Duration) { s.shared.timeoutNS.Store(int64(d)) }

// WithContext is the store with its statements bound to ctx too (a
// request's context): they end when it does, and still within the query
// timeout.
func (s *Store) WithContext(ctx context.Context) *Store {
	c := *s
	c.db = s.db.WithContext(ctx)
	c.reads = s.reads.WithContext(ctx)
	return &c
}

// bound is ctx with the query timeout, unless it ends sooner.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	d := s.shared.timeout()
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// transaction is db.Transaction within the query timeout.
func (s *Store) transaction(fn func(tx *gorm.DB) error) error {
	ctx, cancel := s.bound(s.db.Statement.Context)
	defer cancel()
	return s.unavailable(s.db.WithContext(ctx).Transaction(fn))
}

const deadlineKey = "runbook:deadline"

type deadline struct {
	parent context.Context
	cancel context.CancelFunc
}

// registerDeadlines bounds every create, query, update, delete and raw
// statement to the query timeout unless its context ends sooner (one
// inside a transaction has the transaction's), and types the errors of a database that did not answer.
// Row and Rows hand open rows back to the caller, so they are not bounded
// here: the store calls them only inside transactions.
func (s *Store) registerDeadlines(db *gorm.DB) error {
	before := func(db *gorm.DB) {
		ctx := db.Statement.Context
		d := s.shared.timeout()
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
			return // a transaction's, or a request's that ends first
		}
		bounded, cancel := context.WithTimeout(ctx, d)
		db.Statement.Context = bounded
		db.InstanceSet(deadlineKey, deadline{parent: ctx, cancel: cancel})
	}
	after := func(db *gorm.DB) {
		if v, ok := db.InstanceGet(deadlineKey); ok {
			d := v.(deadline)
			d.cancel()
			// A chained *gorm.DB may run another statement on this one.
			db.Statement.Context = d.parent
			db.Statement.Settings.Delete(deadlineKey)
		}
		if db.Error != nil {
			db.Error = s.unavailable(db.Error)
		}
	}
	type registrar interface {
		Register(name string, fn func(*gorm.DB)) error
	}
	cb := db.Callback()
	for _, r := range [][2]registrar{
		{cb.Create().Before("*"), cb.Create().After("*")},
		{cb.Query().Before("*"), cb.Query().After("*")},
		{cb.Update().Before("*"), cb.Update().After("*")},
		{cb.Delete().Before("*"), cb.Delete().After("*")},
		{cb.Raw().Before("*"), cb.Raw().After("*")},
	} {
		if err := r[0].Register("runbook:deadline", before); err != nil {
			return err
		}
		if err := r[1].Register("runbook:deadline_end", after); err != nil {
			return err
		}
	}
	for _, r := range []registrar{cb.Create().Before("gorm:begin_transaction"), cb.Update().Before("gorm:begin_transaction")} {
		if err := r.Register("runbook:sizes", checkSizes); err != nil {
			return err
		}
	}
	return nil
}
