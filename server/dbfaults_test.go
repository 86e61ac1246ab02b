package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/devserver/devtest"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/worker"
)

// get sends GET path with token and returns the status, the body and how
// long the answer took.
func get(t *testing.T, url, path, token string) (int, string, time.Duration) {
	t.Helper()
	req, _ := http.NewRequest("GET", url+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), time.Since(start)
}

// pgSchema makes a schema of its own in the test database, or skips the
// test when Postgres is unreachable.
func pgSchema(t *testing.T) string {
	t.Helper()
	admin, err := sql.Open("pgx", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	if err == nil {
		err = admin.Ping()
	}
	if err != nil {
		t.Skipf("Postgres at 127.0.0.1:5432 (database test) is unreachable: %v", err)
	}
	schema := fmt.Sprintf("rbfault_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		admin.Close()
	})
	return schema
}

// With Postgres partitioned (a proxy that accepts and forwards nothing)
// every request and /readyz answer 503 within their deadlines, and so do
// they with Postgres down; no answer names the database user.
func TestPostgresPartitionedOrDown(t *testing.T) {
	c := temporalStack(t)
	schema := pgSchema(t)
	proxy := devtest.StartProxy(t, "127.0.0.1:5432")
	st, err := store.Open("postgres://postgres@" + proxy.Addr + "/test?sslmode=disable&search_path=" + schema)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const timeout = time.Second
	st.SetQueryTimeout(timeout)
	api := &API{Store: st, Temporal: c, TaskQueue: worker.TaskQueue, Catalog: activities.Catalog()}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	viewer, _, err := st.CreateToken("vic", []string{"viewer"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/v1/runs", "/readyz"} {
		if code, body, _ := get(t, srv.URL, path, viewer); code != 200 {
			t.Fatalf("GET %s before the partition: %d %s", path, code, body)
		}
	}
	check := func(state, path string, within time.Duration, want string) {
		t.Helper()
		code, body, took := get(t, srv.URL, path, viewer)
		if code != 503 || took > within || !strings.Contains(body, want) || !strings.Contains(body, `"details":[`) {
			t.Errorf("GET %s, Postgres %s: %d after %s (at most %s), want 503 with %q: %s", path, state, code, took, within, want, body)
		}
		if strings.Contains(body, "postgres") || strings.Contains(body, "user=") {
			t.Errorf("GET %s, Postgres %s: the answer names the database user: %s", path, state, body)
		}
	}

	proxy.Pause()
	check("partitioned", "/api/v1/runs", timeout+2*time.Second, "the database did not answer within 1s")
	check("partitioned", "/readyz", ReadyTimeout+time.Second, "database: did not answer within")
	// Statements and transactions past authentication are bounded too.
	start := time.Now()
	_, err = st.Tokens("")
	var ue *store.UnavailableError
	if !errors.As(err, &ue) || time.Since(start) > timeout+2*time.Second {
		t.Errorf("listing tokens, partitioned: %v after %s", err, time.Since(start))
	}
	start = time.Now()
	if _, _, err := st.CreateToken("ann", []string{"viewer"}, nil); !errors.As(err, &ue) || time.Since(start) > timeout+2*time.Second {
		t.Errorf("a transaction, partitioned: %v after %s", err, time.Since(start))
	}

	proxy.Resume()
	waitFor(t, func() bool { code, _, _ := get(t, srv.URL, "/api/v1/runs", viewer); return code == 200 })

	proxy.Stop()
	check("down", "/api/v1/runs", timeout+2*time.Second, "the database ")
	check("down", "/readyz", ReadyTimeout+time.Second, "database: ")
}

// Reads do not wait for or fail on a SQLite that another process holds
// locked: authentication notes a token's use and writes it later.
func TestLockedSQLiteServesReads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "locked.db")
	st, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	admin, tok, err := st.CreateToken("root", []string{"admin"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer((&API{Store: st}).Handler())
	defer srv.Close()

	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	lock, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/api/v1/tokens", "/api/v1/runs", "/api/v1/tokens"} {
		code, body, took := get(t, srv.URL, p, admin)
		if code != 200 || took > time.Second {
			t.Errorf("GET %s with the database locked: %d after %s: %s", p, code, took, body)
		}
		if p == "/api/v1/tokens" && !strings.Contains(body, `"lastUsedAt":"`) {
			t.Errorf("the token's use is not shown: %s", body)
		}
	}
	if _, err := lock.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	lock.Close()
	if err := st.Close(); err != nil { // waits for the use to be written
		t.Fatal(err)
	}
	var used sql.NullString
	if err := other.QueryRow("SELECT last_used_at FROM tokens WHERE id = ?", tok.ID).Scan(&used); err != nil || !used.Valid {
		t.Errorf("the use was not written once the lock was gone: %v %v", used, err)
	}
}
