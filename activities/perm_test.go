package activities

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/opsrunbook/runbook/plan"
)

// checkMode fails unless path has exactly mode.
func checkMode(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != mode {
		t.Errorf("%s is %o, want %o", filepath.Base(path), st.Mode().Perm(), mode)
	}
}

// openUmask lets every file be created world-readable unless its creator
// asks otherwise, as a careless worker host would.
func openUmask(t *testing.T) {
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })
}

// Backups and their manifests are readable by the worker's user only,
// whatever the umask; a destination the action creates is 0700.
func TestBackupFilesArePrivate(t *testing.T) {
	openUmask(t)
	src := t.TempDir()
	writeTree(t, src, map[string]string{"a.txt": "alpha"})
	dst := filepath.Join(t.TempDir(), "new", "backups")
	out, err := (&Env{}).Handlers()[BackupFilesSpec.Name](context.Background(), plan.ActionInput{Inputs: map[string]any{"source": src, "destination": dst}})
	if err != nil {
		t.Fatal(err)
	}
	checkMode(t, dst, 0o700)
	checkMode(t, filepath.Dir(dst), 0o700)
	checkMode(t, out.Outputs["path"].(string), 0o600)
	checkMode(t, out.Outputs["manifest"].(string), 0o600)
}

func TestBackupPostgresIsPrivate(t *testing.T) {
	db := pgDatabase(t, "perm")
	openUmask(t)
	dst := filepath.Join(t.TempDir(), "dumps")
	out, err := (&Env{}).Handlers()[BackupPostgresSpec.Name](context.Background(), plan.ActionInput{Inputs: map[string]any{"dsn": pgDSN(db), "destination": dst, "allowEmpty": true}})
	if err != nil {
		t.Fatal(err)
	}
	checkMode(t, dst, 0o700)
	checkMode(t, out.Outputs["path"].(string), 0o600)
	checkMode(t, out.Outputs["manifest"].(string), 0o600)
}
