package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/runbooks"
)

// Two processes on one Postgres database (two stores here, as two API
// replicas): each keeps the latest version of a runbook and the freezes
// it read, and drops them when the other writes (its notification), or at
// once when it writes itself; with its listening connection gone, it
// keeps nothing until listening again, and never answers what was written
// meanwhile from before.
func TestConfigCacheFollowsWritesOfEveryProcess(t *testing.T) {
	admin, schema := pgSchema(t, "rbconfig")
	open := func() *Store {
		s, err := Open(pgURL + "&search_path=" + schema)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open(), open()
	src := func(msg string) string {
		return "apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: cached}\nspec:\n  steps:\n    - {id: say, action: log, with: {message: " + msg + "}}\n"
	}
	save := func(s *Store, msg string) {
		t.Helper()
		if _, _, err := s.SaveRunbook(src(msg), planOf(t, src(msg)), "ann"); err != nil {
			t.Fatal(err)
		}
	}
	latest := func(s *Store) int {
		t.Helper()
		v, err := s.Runbook("cached", 0)
		if err != nil {
			t.Fatal(err)
		}
		return v.Version
	}
	// waitKept reads until s keeps the latest version (its listener up).
	waitKept := func(s *Store) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			latest(s)
			if _, ok := s.shared.config.latestOf("cached"); ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("the latest version is never kept")
			}
		}
	}
	// dropped waits until what s keeps goes (a notification arrived).
	dropped := func(s *Store) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			if _, ok := s.shared.config.latestOf("cached"); !ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("the kept version never goes")
			}
		}
	}

	save(a, "one")
	waitKept(a)
	gen := func(s *Store) uint64 {
		s.shared.config.mu.Lock()
		defer s.shared.config.mu.Unlock()
		return s.shared.config.gen
	}
	before := gen(a)
	save(b, "two") // the other process: its notification, not the age, drops it
	for deadline := time.Now().Add(10 * time.Second); gen(a) == before; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the other process's save never notified this one")
		}
	}
	if got := latest(a); got != 2 {
		t.Fatalf("after the other process saved version 2, the latest is %d", got)
	}
	waitKept(a)
	save(a, "three") // this process: at once
	if got := latest(a); got != 3 {
		t.Fatalf("after saving version 3 here, the latest is %d", got)
	}

	freeze := func(name string) {
		t.Helper()
		f, diags := runbooks.BuildFreeze("f.yaml", []byte(fmt.Sprintf("apiVersion: runbook/v1\nkind: Freeze\nmetadata: {name: %s}\nspec:\n  reason: r\n  windows: [{from: \"2030-01-01T00:00:00Z\", to: \"2030-01-02T00:00:00Z\"}]\n  runbooks: {names: [cached]}\n", name)))
		if f == nil {
			t.Fatal(diags)
		}
		if _, _, err := b.PutFreeze("", f, "ann"); err != nil {
			t.Fatal(err)
		}
	}
	freezes := func() int {
		t.Helper()
		f, err := a.CompiledFreezes()
		if err != nil {
			t.Fatal(err)
		}
		return len(f)
	}
	if got := freezes(); got != 0 {
		t.Fatalf("%d freezes", got)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		freezes()
		if _, ok := a.shared.config.compiledFreezes(); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the freezes are never kept")
		}
	}
	freeze("first")
	for deadline := time.Now().Add(10 * time.Second); freezes() != 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a freeze the other process registered never shows")
		}
	}

	// A token: kept once authenticated, refused once revoked, whichever
	// process revoked it.
	secret, tok, err := a.CreateToken("ann", []string{"viewer"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := a.Authenticate(secret); err != nil {
			t.Fatal(err)
		}
		if _, ok := a.shared.config.tokenOf(hashToken(secret)); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the token is never kept")
		}
	}
	before = gen(a)
	if _, err := b.RevokeToken("root", tok.ID); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); gen(a) == before; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the other process's revocation never notified this one")
		}
	}
	if _, err := a.Authenticate(secret); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("a token the other process revoked: %v", err)
	}
	secret2, tok2, err := a.CreateToken("bob", []string{"viewer"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(secret2); err != nil {
		t.Fatal(err)
	}
	if _, err := a.RevokeToken("root", tok2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(secret2); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("a token this process revoked: %v", err)
	}

	// The listening connections die: nothing is kept until they are back,
	// and a version saved meanwhile is never missed.
	waitKept(a)
	if err := admin.Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'runbook-config-listener' AND pid <> pg_backend_pid()").Error; err != nil {
		t.Fatal(err)
	}
	dropped(a)
	save(b, "four")
	if got := latest(a); got != 4 {
		t.Fatalf("with the listener down, the latest is %d", got)
	}
	waitKept(a)
	if got := latest(a); got != 4 {
		t.Fatalf("listening again, the latest is %d", got)
	}
}

// SQLite keeps no token: another process (runbook token revoke --db)
// revokes without notifying.
func TestSQLiteKeepsNoToken(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tokens.db")
	s, err := Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	secret, tok, err := s.CreateToken("ann", []string{"viewer"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := s.Authenticate(secret); err != nil {
		t.Fatal(err)
	}
	// Read through the statement prepared once, the same as GORM reads it.
	s.db.Model(&Token{}).Where("id = ?", tok.ID).Updates(map[string]any{"last_used_at": time.Now().UTC(), "expires_at": time.Now().UTC().Add(time.Hour)})
	var prepared, viaGORM Token
	if err := s.tokenByHash(hashToken(secret), &prepared); err != nil || s.shared.tokenByHash == nil {
		t.Fatalf("prepared read: %v (prepared: %v)", err, s.shared.tokenByHash != nil)
	}
	if err := s.db.First(&viaGORM, tok.ID).Error; err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(prepared, viaGORM) {
		t.Errorf("prepared read %+v, GORM's %+v", prepared, viaGORM)
	}
	if _, err := other.RevokeToken("root", tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(secret); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("a token another process revoked: %v", err)
	}
}
