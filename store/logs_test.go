package store

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/opsrunbook/runbook/steplog"
)

func logLines(from, n int, stream string) []steplog.Line {
	out := make([]steplog.Line, n)
	for i := range out {
		out[i] = steplog.Line{At: time.Date(2026, 1, 2, 3, 4, 5, i, time.UTC), Stream: stream, Text: fmt.Sprintf("line %04d", from+i)}
	}
	return out
}

func texts(ls []LogLine) string {
	var b []string
	for _, l := range ls {
		b = append(b, fmt.Sprintf("%d:%s", l.Seq, l.Text))
	}
	return strings.Join(b, ",")
}

func TestLogsNumberFilterAndPage(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		a := steplog.Key{RunID: "r1", Step: "a", Item: -1, Attempt: 1}
		b := steplog.Key{RunID: "r1", Step: "b", Item: 3, Attempt: 2}
		for _, w := range []struct {
			k     steplog.Key
			lines []steplog.Line
		}{{a, logLines(0, 2, steplog.Stdout)}, {b, logLines(100, 2, steplog.Stderr)}, {a, logLines(2, 1, steplog.Log)}} {
			if err := s.AppendLog(ctx, w.k, w.lines, steplog.Caps{}); err != nil {
				t.Fatal(err)
			}
		}
		all, elided, err := s.Logs(ctx, LogQuery{RunID: "r1", Limit: 100})
		if err != nil || texts(all) != "1:line 0000,2:line 0001,3:line 0100,4:line 0101,5:line 0002" || len(elided) != 0 {
			t.Fatalf("all = %s, %v, %v", texts(all), elided, err)
		}
		if all[2].Step != "b" || all[2].Item != 3 || all[2].Attempt != 2 || all[2].Stream != steplog.Stderr || !all[2].At.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
			t.Errorf("line 3 = %+v", all[2])
		}
		page, _, _ := s.Logs(ctx, LogQuery{RunID: "r1", Since: 1, Limit: 2})
		tail, _, _ := s.Logs(ctx, LogQuery{RunID: "r1", Tail: 2})
		step, _, _ := s.Logs(ctx, LogQuery{RunID: "r1", Step: "a", Limit: 100})
		item := 3
		items, _, _ := s.Logs(ctx, LogQuery{RunID: "r1", Step: "b", Item: &item, Since: 3, Limit: 100})
		other := 4
		none, _, _ := s.Logs(ctx, LogQuery{RunID: "r1", Step: "b", Item: &other, Limit: 100})
		for name, got := range map[string][]LogLine{"page": page, "tail": tail, "step": step, "item": items, "none": none} {
			want := map[string]string{"page": "2:line 0001,3:line 0100", "tail": "4:line 0101,5:line 0002", "step": "1:line 0000,2:line 0001,5:line 0002",
				"item": "4:line 0101", "none": ""}[name]
			if texts(got) != want {
				t.Errorf("%s = %s, want %s", name, texts(got), want)
			}
		}
		if has, err := s.HasLogs(ctx, "r1"); !has || err != nil {
			t.Errorf("HasLogs(r1) = %v, %v", has, err)
		}
		if has, _ := s.HasLogs(ctx, "r2"); has {
			t.Error("HasLogs(r2) = true")
		}
	})
}

// Past the step cap the head and the latest lines stay; the middle is
// elided and counted.
func TestLogsElideTheMiddlePastTheCaps(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		k := steplog.Key{RunID: "big", Step: "s", Item: -1, Attempt: 1}
		caps := steplog.Caps{StepBytes: 90, RunBytes: 1000} // each chunk: 3 lines of 9 bytes
		for i := range 10 {
			if err := s.AppendLog(ctx, k, logLines(3*i, 3, steplog.Stdout), caps); err != nil {
				t.Fatal(err)
			}
		}
		got, elided, err := s.Logs(ctx, LogQuery{RunID: "big", Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		// Head: chunks until 45 bytes (2 chunks, 54 bytes); then the
		// newest chunks that keep the attempt within 90 bytes (1 more).
		if want := "1:line 0000,2:line 0001,3:line 0002,4:line 0003,5:line 0004,6:line 0005,28:line 0027,29:line 0028,30:line 0029"; texts(got) != want {
			t.Errorf("kept %s\nwant %s", texts(got), want)
		}
		if len(elided) != 1 || elided[0] != (Elision{Step: "s", Attempt: 1, Lines: 21, Bytes: 189}) {
			t.Errorf("elided = %+v", elided)
		}
		// The run's cap elides across steps, keeping the run's head.
		caps = steplog.Caps{StepBytes: 1000, RunBytes: 120}
		for i, step := range []string{"a", "b", "c", "d"} {
			if err := s.AppendLog(ctx, steplog.Key{RunID: "wide", Step: step, Item: i, Attempt: 1}, logLines(10*i, 5, steplog.Stdout), caps); err != nil {
				t.Fatal(err)
			}
		}
		got, elided, _ = s.Logs(ctx, LogQuery{RunID: "wide", Limit: 100})
		if want := "1:line 0000,2:line 0001,3:line 0002,4:line 0003,5:line 0004,6:line 0010,7:line 0011,8:line 0012,9:line 0013,10:line 0014,16:line 0030,17:line 0031,18:line 0032,19:line 0033,20:line 0034"; texts(got) != want {
			t.Errorf("wide kept %s\nwant %s", texts(got), want)
		}
		if len(elided) != 1 || elided[0].Item == nil || *elided[0].Item != 2 || elided[0].Step != "c" || elided[0].Lines != 5 || elided[0].Bytes != 45 {
			t.Errorf("wide elided = %+v", elided)
		}
	})
}

// Workers writing one run at once get distinct, gapless seqs.
func TestLogsConcurrentWritersShareOneSequence(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 5 {
					if err := s.AppendLog(ctx, steplog.Key{RunID: "c", Step: "s", Item: w, Attempt: 1}, logLines(i, 4, steplog.Stdout), steplog.Caps{}); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		got, _, err := s.Logs(ctx, LogQuery{RunID: "c", Limit: 1000})
		if err != nil || len(got) != 160 {
			t.Fatalf("%d lines, %v", len(got), err)
		}
		for i, l := range got {
			if l.Seq != int64(i+1) {
				t.Fatalf("line %d has seq %d", i, l.Seq)
			}
		}
	})
}

// A worker's role needs rights on the log tables only.
func TestOpenLogsNeedsOnlyTheLogTables(t *testing.T) {
	admin, err := gorm.Open(postgres.Open(pgURL), &gorm.Config{Logger: logger.Discard})
	if err == nil {
		err = admin.Exec("SELECT 1").Error
	}
	if err != nil {
		t.Skipf("Postgres at 127.0.0.1:5432 (database test) is unreachable: %v", err)
	}
	id := fmt.Sprintf("%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	schema, role := "rblogs_"+id, "rblogs_role_"+id
	for _, q := range []string{"CREATE SCHEMA " + schema, "CREATE ROLE " + role + " LOGIN"} {
		if err := admin.Exec(q).Error; err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		admin.Exec("DROP OWNED BY " + role)
		admin.Exec("DROP ROLE " + role)
	})
	full, err := Open(pgURL + "&search_path=" + schema)
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	for _, q := range []string{
		"GRANT USAGE ON SCHEMA " + schema + " TO " + role,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON " + schema + ".log_runs, " + schema + ".log_streams, " + schema + ".log_chunks TO " + role,
		"GRANT USAGE ON ALL SEQUENCES IN SCHEMA " + schema + " TO " + role,
	} {
		if err := admin.Exec(q).Error; err != nil {
			t.Fatal(err)
		}
	}
	dsn := strings.Replace(pgURL, "postgres@", role+"@", 1) + "&search_path=" + schema
	if _, err := Open(dsn); err == nil {
		t.Fatal("the log role could open the whole records")
	}
	logs, err := OpenLogs(dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	if err := logs.AppendLog(context.Background(), steplog.Key{RunID: "w", Step: "s", Item: -1, Attempt: 1}, logLines(0, 2, steplog.Stdout), steplog.Caps{}); err != nil {
		t.Fatal(err)
	}
	if got, _, err := full.Logs(context.Background(), LogQuery{RunID: "w", Limit: 10}); err != nil || texts(got) != "1:line 0000,2:line 0001" {
		t.Errorf("the API reads %s, %v", texts(got), err)
	}
	if _, err := logs.Run("w"); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("the log role read a run: %v", err)
	}
}
