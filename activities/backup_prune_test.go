package activities

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/plan"
)

// fakeBackups makes n backups of prefix, one a day, newest last; it
// corrupts those listed in bad.
func fakeBackups(t *testing.T, dir, prefix string, n int, bad map[int]bool) []string {
	t.Helper()
	src := t.TempDir()
	writeTree(t, src, map[string]string{"x": "data"})
	var out []string
	for i := range n {
		o, err := handlerOf(&Env{}, BackupFilesSpec)(context.Background(), plan.ActionInput{Inputs: map[string]any{"source": src, "destination": dir, "prefix": prefix}})
		if err != nil {
			t.Fatal(err)
		}
		path := o.Outputs["path"].(string)
		// Date the backup i days after the first: rename and rewrite its manifest.
		m, _ := readManifest(path)
		m.Created = time.Now().Add(time.Duration(i-n) * 24 * time.Hour)
		dated := filepath.Join(dir, backupName(prefix, filesArchive, m.Created))
		if err := os.Rename(path, dated); err != nil {
			t.Fatal(err)
		}
		os.Remove(ManifestPath(path))
		m.Archive = filepath.Base(dated)
		if bad[i] {
			m.SHA256 = "0000"
		}
		b, _ := json.Marshal(m)
		if err := os.WriteFile(ManifestPath(dated), b, 0o644); err != nil {
			t.Fatal(err)
		}
		out = append(out, dated)
	}
	return out
}

func TestBackupPrune(t *testing.T) {
	dir := t.TempDir()
	b := fakeBackups(t, dir, "db", 5, nil)
	fakeBackups(t, dir, "files", 2, nil)
	e := &Env{}
	out, err := handlerOf(e, BackupPruneSpec)(context.Background(), plan.ActionInput{Inputs: map[string]any{"destination": dir, "prefix": "db", "keep": 2, "dryRun": true}})
	if err != nil || !reflect.DeepEqual(out.Outputs["removed"], []any{b[2], b[1], b[0]}) {
		t.Fatalf("dry run: %v, %v", out.Outputs, err)
	}
	if _, err := os.Stat(b[0]); err != nil {
		t.Fatal("a dry run removed a file")
	}
	out, err = handlerOf(e, BackupPruneSpec)(context.Background(), plan.ActionInput{Inputs: map[string]any{"destination": dir, "prefix": "db", "maxAge": "2d12h"}})
	if err != nil || !reflect.DeepEqual(out.Outputs["kept"], []any{b[4], b[3]}) {
		t.Fatalf("by age: %v, %v", out.Outputs, err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*.tar.gz"))
	if len(left) != 4 { // 2 db + 2 files
		t.Errorf("left: %v", left)
	}

	// When the newest backups are corrupt, the newest good one stays.
	dir = t.TempDir()
	b = fakeBackups(t, dir, "db", 4, map[int]bool{2: true, 3: true})
	out, err = handlerOf(e, BackupPruneSpec)(context.Background(), plan.ActionInput{Inputs: map[string]any{"destination": dir, "prefix": "db", "keep": 2}})
	if err != nil || !reflect.DeepEqual(out.Outputs["kept"], []any{b[3], b[2], b[1]}) {
		t.Errorf("corrupt newest: %v, %v", out.Outputs, err)
	}
	if _, err := handlerOf(e, BackupPruneSpec)(context.Background(), plan.ActionInput{Inputs: map[string]any{"destination": dir, "prefix": "db"}}); err == nil {
		t.Error("pruning without keep or maxAge was accepted")
	}
}

func TestBackupList(t *testing.T) {
	dst := t.TempDir()
	made := fakeBackups(t, dst, "www", 3, nil)
	writeTree(t, dst, map[string]string{"www-notes.txt": "no manifest", "other-1.tar.gz": "other prefix"})
	// A backup of another prefix that starts with this one is not one of
	// its backups (prefix db never takes db-replica-…).
	fakeBackups(t, dst, "www-staging", 2, nil)
	e := &Env{}
	out, err := handlerOf(e, BackupListSpec)(context.Background(), plan.ActionInput{Inputs: map[string]any{"destination": dst, "prefix": "www"}})
	want := []any{made[2], made[1], made[0]}
	if err != nil || !reflect.DeepEqual(out.Outputs["backups"], want) || out.Outputs["latest"] != made[2] || out.Outputs["count"] != int64(3) {
		t.Errorf("list = %v, %v; made %v", out.Outputs, err, made)
	}
	out, err = handlerOf(e, BackupListSpec)(context.Background(), plan.ActionInput{Inputs: map[string]any{"destination": filepath.Join(dst, "missing"), "prefix": "www"}})
	if err != nil || out.Outputs["latest"] != "" || out.Outputs["count"] != int64(0) {
		t.Errorf("missing directory: %v, %v", out.Outputs, err)
	}
}
