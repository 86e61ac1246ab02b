package activities

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsrunbook/runbook/plan"
)

func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBackupVerifyRestoreFiles(t *testing.T) {
	src, dst, target := t.TempDir(), t.TempDir(), t.TempDir()
	tree := map[string]string{"a.txt": "alpha", "sub/b.bin": strings.Repeat("b", 100000), "sub/deep/c": ""}
	writeTree(t, src, tree)
	e := &Env{}
	ctx := context.Background()
	out, err := handlerOf(e, BackupFilesSpec)(ctx, plan.ActionInput{Inputs: map[string]any{"source": src, "destination": dst, "prefix": "uploads"}})
	if err != nil {
		t.Fatal(err)
	}
	path := out.Outputs["path"].(string)
	if !strings.HasPrefix(filepath.Base(path), "uploads-") || out.Outputs["files"] != int64(3) || len(out.Outputs["sha256"].(string)) != 64 {
		t.Errorf("outputs = %v", out.Outputs)
	}
	if _, err := os.Stat(ManifestPath(path)); err != nil {
		t.Errorf("manifest: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dst, ".*partial")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	v, err := handlerOf(e, BackupVerifySpec)(ctx, plan.ActionInput{Inputs: map[string]any{"path": path}})
	if err != nil || v.Outputs["ok"] != true || v.Outputs["files"] != int64(3) {
		t.Fatalf("verify: %v, %v", v.Outputs, err)
	}
	r, err := handlerOf(e, RestoreFilesSpec)(ctx, plan.ActionInput{Inputs: map[string]any{"path": path, "target": target}})
	if err != nil || r.Outputs["files"] != int64(3) {
		t.Fatalf("restore: %v, %v", r.Outputs, err)
	}
	for name, body := range tree {
		got, err := os.ReadFile(filepath.Join(target, name))
		if err != nil || string(got) != body {
			t.Errorf("%s restored as %d bytes, %v", name, len(got), err)
		}
	}
	_, err = handlerOf(e, RestoreFilesSpec)(ctx, plan.ActionInput{Inputs: map[string]any{"path": path, "target": target}})
	if app := appErr(t, err); app.Type() != plan.ErrBadInput {
		t.Errorf("restoring into a non-empty target: %v", app)
	}
	if _, err := handlerOf(e, RestoreFilesSpec)(ctx, plan.ActionInput{Inputs: map[string]any{"path": path, "target": target, "overwrite": true}}); err != nil {
		t.Errorf("overwrite: %v", err)
	}

	// One flipped byte: verification fails, and restore refuses the backup.
	b, _ := os.ReadFile(path)
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	v, err = handlerOf(e, BackupVerifySpec)(ctx, plan.ActionInput{Inputs: map[string]any{"path": path}})
	if err != nil || v.Outputs["ok"] != false || !strings.Contains(v.Outputs["reason"].(string), "checksum mismatch") {
		t.Errorf("corrupted verify: %v, %v", v.Outputs, err)
	}
	_, err = handlerOf(e, RestoreFilesSpec)(ctx, plan.ActionInput{Inputs: map[string]any{"path": path, "target": t.TempDir()}})
	if app := appErr(t, err); app.Type() != ErrBackupInvalid || !app.NonRetryable() {
		t.Errorf("restoring a corrupted backup: %v", app)
	}
	if _, err := handlerOf(e, BackupFilesSpec)(ctx, plan.ActionInput{Inputs: map[string]any{"source": filepath.Join(src, "missing"), "destination": dst}}); err == nil {
		t.Error("a missing source was backed up")
	}
}
