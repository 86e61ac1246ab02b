package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// State an earlier version left readable by everyone is made private
// before anything opens it, whatever the umask.
func TestDevStatePermissionsAreFixed(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"tokens.env", "temporal.db", "temporal.db-wal", "runbook.db-shm"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := openStateDir(dir); err != nil {
		t.Fatal(err)
	}
	checkStateModes(t, dir, "runbook.db", "tokens.env", "temporal.db", "temporal.db-wal", "runbook.db-shm")
	if err := openStateDir(filepath.Join(filepath.Dir(dir), "new")); err != nil {
		t.Fatal(err)
	}
	checkStateModes(t, filepath.Join(filepath.Dir(dir), "new"), "runbook.db")
}
