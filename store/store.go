// Package store keeps the engine's records with GORM: runbook versions,
// runs and their step timelines, approval votes, schedules, API tokens and
// the audit log. SQLite in a file by default (the pure-Go driver the
// embedded Temporal server links too, so CGO_ENABLED=0 builds work);
// Postgres when given a postgres:// DSN. The records outlive Temporal's
// retention, and listings never depend on Temporal visibility.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	_ "modernc.org/sqlite" // registers the database/sql driver "sqlite"
)

// ErrNotFound is returned when a record does not exist.
var ErrNotFound = errors.New("not found")

// Store is the engine's database.
type Store struct {
	db *gorm.DB
	// reads serves reads outside transactions: on SQLite a pool of its own
	// (WAL lets readers run beside the one writer, and a burst of starts
	// otherwise queued every read behind every write on one connection);
	// on Postgres db itself.
	reads  *gorm.DB
	shared *shared
}

// ReadConns is how many connections SQLite's read pool holds.
const ReadConns = 16

// Open connects to dsn: a postgres:// or postgresql:// URL, or a SQLite
// file path. It creates or migrates the tables.
func Open(dsn string) (*Store, error) { return open(dsn, models, true) }

// open connects and migrates tables; all adds the migrations of the
// other tables (run ids, the audit's triggers).
func open(dsn string, tables []any, all bool) (*Store, error) {
	var dial gorm.Dialector
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		dial = postgres.Open(dsn)
	case dsn == "":
		return nil, fmt.Errorf("store: empty DSN")
	default:
		dial = sqlite.Dialector{DriverName: "sqlite", DSN: sqliteDSN(dsn)}
	}
	// A config of its own for each handle: gorm.Open keeps the one it is
	// given and writes its dialector and callbacks into it.
	config := func() *gorm.Config {
		return &gorm.Config{Logger: logger.Discard, NowFunc: func() time.Time { return time.Now().UTC() }}
	}
	db, err := gorm.Open(dial, config())
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, reads: db, shared: &shared{}}
	s.SetQueryTimeout(DefaultQueryTimeout)
	side := db
	if dial.Name() == "sqlite" {
		if s.reads, err = gorm.Open(sqlite.Dialector{DriverName: "sqlite", DSN: sqliteDSN(dsn) + "&_pragma=query_only(1)"}, config()); err != nil {
			sqlDB.Close()
			return nil, fmt.Errorf("store: open: %w", err)
		}
		if readDB, err := s.reads.DB(); err == nil {
			readDB.SetMaxOpenConns(ReadConns)
			readDB.SetMaxIdleConns(ReadConns)
		}
		sqlDB.SetMaxOpenConns(1) // SQLite takes one writer; one connection avoids SQLITE_BUSY
		if side, err = gorm.Open(sqlite.Dialector{DriverName: "sqlite", DSN: sqliteDSN(dsn)}, config()); err != nil {
			if readDB, rerr := s.reads.DB(); rerr == nil {
				readDB.Close()
			}
			sqlDB.Close()
			return nil, fmt.Errorf("store: open: %w", err)
		}
		if sideDB, err := side.DB(); err == nil {
			sideDB.SetMaxOpenConns(1)
		}
	} else {
		// A burst of requests queues for a connection instead of opening
		// one each until Postgres refuses more ("too many clients").
		sqlDB.SetMaxOpenConns(MaxPostgresConns)
		sqlDB.SetMaxIdleConns(MaxPostgresConns)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
		s.shared.config = &configCache{dsn: dsn}
	}
	if s.shared.config == nil {
		s.shared.config = &configCache{live: true} // SQLite: this process's writes are all
	}
	s.shared.lastUse = newLastUse(side, s.shared.timeout)
	err = s.registerDeadlines(s.db)
	if err == nil && s.reads != s.db {
		err = s.registerDeadlines(s.reads)
	}
	if err == nil && side != s.db {
		err = s.registerDeadlines(side)
	}
	if err == nil {
		err = addLastSeq(db)
	}
	if err == nil {
		err = db.AutoMigrate(tables...)
	}
	if err == nil && all {
		err = widenRunIDs(db)
	}
	if err == nil && all {
		err = s.migrateAudit()
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("store: migrate: %w", err)
	}
	s.startRunBatch()
	return s, nil
}

// MaxPostgresConns bounds the connections one process opens to Postgres.
const MaxPostgresConns = 20

// sqliteDSN turns a path into a modernc DSN with WAL and a busy timeout.
func sqliteDSN(path string) string {
	if strings.Contains(path, "?") {
		if !strings.Contains(path, "_txlock=") {
			path += "&_txlock=immediate" // see below
		}
		return path
	}
	// In a file: URI '#' would end the path and '%' start an escape.
	path = strings.NewReplacer("%", "%25", "#", "%23").Replace(path)
	// Transactions begin IMMEDIATE: the token-use writer has a connection
	// of its own, and a deferred transaction that read before it wrote
	// would fail at once (SQLITE_BUSY_SNAPSHOT) instead of waiting.
	return "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_txlock=immediate"
}

// Ping checks the database answers within the query timeout (and
// ctx): an *UnavailableError when it does not.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.unavailable(sqlDB.PingContext(ctx))
}

// Close waits for the last-use writer and closes the database.
func (s *Store) Close() error {
	s.shared.config.close()
	if s.shared.runs != nil {
		s.shared.runs.stop()
	}
	s.shared.lastUse.wait()
	if s.shared.tokenByHash != nil {
		s.shared.tokenByHash.Close()
	}
	if side := s.shared.lastUse.db; side != s.db {
		if sideDB, err := side.DB(); err == nil {
			sideDB.Close()
		}
	}
	if s.reads != s.db {
		if readDB, err := s.reads.DB(); err == nil {
			readDB.Close()
		}
	}
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

func notFound(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ErrNotFound
	}
	return err
}

// Stats are the connection pools' figures, the writer's and the reads'
// together: how often and how long statements waited for a connection.
func (s *Store) Stats() sql.DBStats {
	var out sql.DBStats
	for _, db := range []*gorm.DB{s.db, s.reads} {
		sqlDB, err := db.DB()
		if err != nil {
			continue
		}
		st := sqlDB.Stats()
		out.WaitCount += st.WaitCount
		out.WaitDuration += st.WaitDuration
		out.OpenConnections += st.OpenConnections
		if s.reads == s.db {
			break
		}
	}
	return out
}
