package store

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/opsrunbook/runbook/steplog"
)

// oldLogChunk is a log chunk as it was before the last_seq column.
type oldLogChunk struct {
	ID        uint   `gorm:"primaryKey"`
	RunID     string `gorm:"size:1000;not null;uniqueIndex:log_chunk_seq"`
	FirstSeq  int64  `gorm:"not null;uniqueIndex:log_chunk_seq"`
	Step      string `gorm:"size:63;not null"`
	Item      int    `gorm:"not null"`
	Attempt   int    `gorm:"not null"`
	Lines     int    `gorm:"not null"`
	Bytes     int    `gorm:"not null"`
	Head      bool   `gorm:"not null"`
	RunHead   bool   `gorm:"not null"`
	Body      string `gorm:"type:text;not null"`
	CreatedAt time.Time
}

func (oldLogChunk) TableName() string { return "log_chunks" }

// Chunks written before last_seq get theirs when the records are opened,
// and reads after a seq find them.
func TestLogChunksMigrateToLastSeq(t *testing.T) {
	makeOldLogs := func(t *testing.T, db *gorm.DB) {
		t.Helper()
		if err := db.AutoMigrate(&LogRun{}, &LogStream{}, &oldLogChunk{}); err != nil {
			t.Fatal(err)
		}
		at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Format(time.RFC3339Nano)
		for _, c := range []oldLogChunk{
			{RunID: "old", FirstSeq: 1, Step: "a", Item: -1, Attempt: 1, Lines: 2, Bytes: 2, Body: `[{"at":"` + at + `","s":"stdout","t":"l1"},{"at":"` + at + `","s":"stdout","t":"l2"}]`},
			{RunID: "old", FirstSeq: 3, Step: "b", Item: 0, Attempt: 1, Lines: 3, Bytes: 3, Body: `[{"at":"` + at + `","s":"stdout","t":"l3"},{"at":"` + at + `","s":"stdout","t":"l4"},{"at":"` + at + `","s":"stderr","t":"l5"}]`},
		} {
			if err := db.Create(&c).Error; err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Create(&LogRun{RunID: "old", NextSeq: 6, Bytes: 5}).Error; err != nil {
			t.Fatal(err)
		}
	}
	check := func(t *testing.T, s *Store) {
		t.Helper()
		var last []int64
		if err := s.db.Model(&LogChunk{}).Order("first_seq").Pluck("last_seq", &last).Error; err != nil || fmt.Sprint(last) != "[2 5]" {
			t.Fatalf("last_seq after the migration = %v, %v", last, err)
		}
		ctx := context.Background()
		if err := s.AppendLog(ctx, steplog.Key{RunID: "old", Step: "a", Item: -1, Attempt: 2}, logLines(0, 1, steplog.Stdout), steplog.Caps{}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			q    LogQuery
			want string
		}{
			{LogQuery{RunID: "old", Since: 1, Limit: 100}, "2:l2,3:l3,4:l4,5:l5,6:line 0000"},
			{LogQuery{RunID: "old", Since: 2, Limit: 2}, "3:l3,4:l4"},
			{LogQuery{RunID: "old", Since: 4, Tail: 10}, "5:l5,6:line 0000"},
			{LogQuery{RunID: "old", Step: "a", Since: 1, Limit: 100}, "2:l2,6:line 0000"},
		} {
			got, _, err := s.Logs(ctx, tc.q)
			if err != nil || texts(got) != tc.want {
				t.Errorf("Logs(%+v) = %s, %v; want %s", tc.q, texts(got), err, tc.want)
			}
		}
	}
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "old.db")
		old, err := gorm.Open(sqlite.Dialector{DriverName: "sqlite", DSN: path}, &gorm.Config{Logger: logger.Discard})
		if err != nil {
			t.Fatal(err)
		}
		makeOldLogs(t, old)
		if db, err := old.DB(); err == nil {
			db.Close()
		}
		s, err := OpenLogs(path)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		check(t, s)
	})
	t.Run("postgres", func(t *testing.T) {
		_, schema := pgSchema(t, "rblast")
		old, err := gorm.Open(postgres.Open(pgURL+"&search_path="+schema), &gorm.Config{Logger: logger.Discard})
		if err != nil {
			t.Fatal(err)
		}
		makeOldLogs(t, old)
		s, err := Open(pgURL + "&search_path=" + schema)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		check(t, s)
	})
}

// Every read of log chunks searches an index by its range, not only by
// the run: SQLite's plans of the queries Logs and the elision run.
func TestLogReadsSearchTheIndexes(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "runbook.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	type query struct {
		sql  string
		vars []any
	}
	var queries []query
	record := func(db *gorm.DB) {
		if db.Statement.Table == "log_chunks" {
			queries = append(queries, query{db.Statement.SQL.String(), db.Statement.Vars})
		}
	}
	if err := s.db.Callback().Query().After("gorm:query").Register("test:plans", record); err != nil {
		t.Fatal(err)
	}
	item := 0
	for _, tc := range []struct {
		name string
		run  func() error
		want []string // one of
	}{
		{"forward", func() error { _, _, err := s.Logs(ctx, LogQuery{RunID: "r", Since: 3, Limit: 10}); return err },
			[]string{"SEARCH log_chunks USING INDEX log_chunk_last (run_id=? AND last_seq>?)"}},
		{"tail", func() error { _, _, err := s.Logs(ctx, LogQuery{RunID: "r", Tail: 10}); return err },
			[]string{"SEARCH log_chunks USING INDEX log_chunk_last (run_id=? AND last_seq>?)"}},
		{"step", func() error {
			_, _, err := s.Logs(ctx, LogQuery{RunID: "r", Step: "s", Item: &item, Since: 3, Limit: 10})
			return err
		}, // SQLite, without statistics, prefers the index in seq order
			[]string{"SEARCH log_chunks USING INDEX log_chunk_last (run_id=? AND last_seq>?)", "SEARCH log_chunks USING INDEX log_chunk_step (run_id=? AND step=? AND item=?)"}},
		{"elide", func() error {
			for i := range 3 {
				if err := s.AppendLog(ctx, steplog.Key{RunID: "r", Step: "s", Item: -1, Attempt: 1}, logLines(i, 1, steplog.Stdout), steplog.Caps{StepBytes: 2, RunBytes: 1 << 20}); err != nil {
					return err
				}
			}
			return nil
		}, []string{"SEARCH log_chunks USING INDEX log_chunk_step (run_id=? AND step=? AND item=? AND attempt=?)"}},
	} {
		queries = nil
		if err := tc.run(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(queries) == 0 {
			t.Fatalf("%s ran no query of log_chunks", tc.name)
		}
		for _, q := range queries {
			var plan []string
			rows, err := s.db.Raw("EXPLAIN QUERY PLAN "+q.sql, q.vars...).Rows()
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			rows.Close()
			got := strings.Join(plan, "; ")
			if !slices.ContainsFunc(tc.want, func(w string) bool { return strings.HasPrefix(got, w) }) {
				t.Errorf("%s: %s\nplan: %s\nwant one of: %q", tc.name, q.sql, got, tc.want)
			}
		}
	}
}
