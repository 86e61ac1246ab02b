package activities

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/opsrunbook/runbook/plan"
)

func runAction(t *testing.T, spec *plan.ActionSpec, in map[string]any) (map[string]any, error) {
	t.Helper()
	out, err := handlerOf(&Env{}, spec)(context.Background(), plan.ActionInput{Inputs: in})
	return out.Outputs, err
}

// failure is an action's error as type: message, "" for none.
func failure(err error) string {
	if err == nil {
		return ""
	}
	app, ok := err.(*temporal.ApplicationError)
	if !ok {
		return "untyped: " + err.Error()
	}
	return app.Type() + ": " + app.Message()
}

// Inputs that would write outside the destination, or into the source,
// or mix two sources under one prefix, are refused before anything is
// written.
func TestBackupRefusesBadPlaces(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	writeTree(t, src, map[string]string{"a": "alpha"})
	other := t.TempDir()
	writeTree(t, other, map[string]string{"b": "beta"})
	if _, err := runAction(t, BackupFilesSpec, map[string]any{"source": src, "destination": dst, "prefix": "app"}); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "into-src")
	if err := os.Symlink(src, link); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		in   map[string]any
		want string
	}{
		{"traversal in the prefix", map[string]any{"source": src, "destination": dst, "prefix": "a/../../x"},
			`BadInput: backup.files: prefix "a/../../x" must be 1 to 100 letters, digits, '_', '-' or '.', starting with a letter or digit, without '..' or '/'`},
		{"a hidden prefix", map[string]any{"source": src, "destination": dst, "prefix": ".x"},
			`BadInput: backup.files: prefix ".x" must be 1 to 100 letters, digits, '_', '-' or '.', starting with a letter or digit, without '..' or '/'`},
		{"a relative destination", map[string]any{"source": src, "destination": "backups", "prefix": "app"},
			`BadInput: backup.files: destination "backups" must be an absolute path`},
		{"an unclean destination", map[string]any{"source": src, "destination": dst + "/../x", "prefix": "app"},
			`BadInput: backup.files: destination "` + dst + `/../x" is not a clean path (it means ` + filepath.Dir(dst) + `/x); write it so`},
		{"a destination inside the source", map[string]any{"source": src, "destination": filepath.Join(src, "backups"), "prefix": "app"},
			`BadInput: backup.files: destination ` + filepath.Join(src, "backups") + ` is inside the source ` + src + `: each backup would hold the ones before it`},
		{"inside the source through a symlink", map[string]any{"source": src, "destination": filepath.Join(link, "backups"), "prefix": "app"},
			`BadInput: backup.files: destination ` + filepath.Join(link, "backups") + ` is inside the source ` + src + `: each backup would hold the ones before it`},
		{"a prefix of another source", map[string]any{"source": other, "destination": dst, "prefix": "app"},
			`BadInput: backup.files: ` + dst + ` already holds backups named app-… of ` + src + `, not ` + other + `; give each source its own prefix`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := runAction(t, BackupFilesSpec, tt.in); failure(err) != tt.want {
				t.Errorf("got  %s\nwant %s", failure(err), tt.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(src, "backups")); !os.IsNotExist(err) {
		t.Errorf("a refused backup made its destination inside the source: %v", err)
	}
	if _, err := runAction(t, BackupListSpec, map[string]any{"destination": dst, "prefix": "../db"}); !strings.HasPrefix(failure(err), `BadInput: backup.list: prefix "../db" must be`) {
		t.Errorf("list with a traversal prefix: %s", failure(err))
	}
}

// Prefix db never takes db-replica's backups: list shows only db's, and
// prune keeps the only db backup however many replica dumps there are.
func TestBackupPrefixesMatchExactly(t *testing.T) {
	dst := t.TempDir()
	db := fakeBackups(t, dst, "db", 1, nil)
	replica := fakeBackups(t, dst, "db-replica", 3, nil)
	out, err := runAction(t, BackupListSpec, map[string]any{"destination": dst, "prefix": "db"})
	if err != nil || out["latest"] != db[0] || out["count"] != int64(1) {
		t.Errorf("list db: %v %v", out, err)
	}
	out, err = runAction(t, BackupPruneSpec, map[string]any{"destination": dst, "prefix": "db", "maxAge": "1h"})
	if err != nil || !reflect.DeepEqual(out["kept"], []any{db[0]}) || len(out["removed"].([]any)) != 0 {
		t.Errorf("prune db: %v %v", out, err)
	}
	for _, p := range append(db, replica...) {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s is gone: %v", p, err)
		}
	}
	// A manifest of another prefix (a renamed archive) is not this prefix's backup.
	m, _ := readManifest(replica[0])
	renamed := filepath.Join(dst, backupName("db", filesArchive, m.Created))
	os.Rename(replica[0], renamed)
	os.Rename(ManifestPath(replica[0]), ManifestPath(renamed))
	if out, _ := runAction(t, BackupListSpec, map[string]any{"destination": dst, "prefix": "db"}); out["count"] != int64(1) {
		t.Errorf("a renamed db-replica backup is listed as db's: %v", out)
	}
	if v, _ := runAction(t, BackupVerifySpec, map[string]any{"path": renamed}); v["ok"] != false || !strings.Contains(v["reason"].(string), "the manifest is of db-replica-") {
		t.Errorf("verify of the renamed archive: %v", v)
	}
}

// A symlinked source is resolved; an empty one fails unless allowed, and
// verify holds the same rule.
func TestBackupNoSilentEmpties(t *testing.T) {
	real, dst := t.TempDir(), t.TempDir()
	writeTree(t, real, map[string]string{"a": "alpha", "d/b": "beta"})
	link := filepath.Join(t.TempDir(), "volume")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	out, err := runAction(t, BackupFilesSpec, map[string]any{"source": link, "destination": dst, "prefix": "vol"})
	if err != nil || out["files"] != int64(2) || out["source"] != real {
		t.Fatalf("symlinked source: %v %v", out, err)
	}
	empty := t.TempDir()
	_, err = runAction(t, BackupFilesSpec, map[string]any{"source": empty, "destination": dst, "prefix": "empty"})
	if want := "BackupEmpty: backup.files: " + empty + " holds no files; set allowEmpty to accept an empty backup"; failure(err) != want || !err.(*temporal.ApplicationError).NonRetryable() {
		t.Errorf("empty source: %s", failure(err))
	}
	if left, _ := filepath.Glob(filepath.Join(dst, "*empty*")); len(left) != 0 {
		t.Errorf("a refused empty backup left %v", left)
	}
	out, err = runAction(t, BackupFilesSpec, map[string]any{"source": empty, "destination": dst, "prefix": "empty", "allowEmpty": true})
	if err != nil || out["files"] != int64(0) {
		t.Fatalf("allowEmpty: %v %v", out, err)
	}
	path := out["path"].(string)
	if v, _ := runAction(t, BackupVerifySpec, map[string]any{"path": path}); v["ok"] != true {
		t.Errorf("verify of an empty backup made with allowEmpty: %v", v)
	}
	// The same archive whose manifest does not allow it: not whole, unless
	// verify is told so.
	m, _ := readManifest(path)
	m.AllowEmpty = false
	if err := writeManifest(m, path); err != nil {
		t.Fatal(err)
	}
	if v, _ := runAction(t, BackupVerifySpec, map[string]any{"path": path}); v["ok"] != false || v["reason"] != "the backup holds no files (its manifest says 0); it was not made with allowEmpty" {
		t.Errorf("verify of an empty backup: %v", v)
	}
	if v, _ := runAction(t, BackupVerifySpec, map[string]any{"path": path, "allowEmpty": true}); v["ok"] != true {
		t.Errorf("verify with allowEmpty: %v", v)
	}
}

// A file that grows the whole time it is archived: read again once, then
// listed in changed; the archive verifies and restores to its last copy.
// With onChange: fail the backup fails, retryably.
func TestBackupFileChangingWhileRead(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	writeTree(t, src, map[string]string{"steady": "same"})
	log := filepath.Join(src, "app.log")
	if err := os.WriteFile(log, []byte(strings.Repeat("x", 8<<20)), 0o644); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		f, err := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer f.Close()
		for !stop.Load() {
			f.WriteString("line\n")
		}
	}()
	stopWriting := func() {
		stop.Store(true)
		<-done
	}
	defer stopWriting()
	out, err := runAction(t, BackupFilesSpec, map[string]any{"source": src, "destination": dst, "prefix": "logs"})
	if err != nil || !reflect.DeepEqual(out["changed"], []any{"app.log"}) || out["files"] != int64(2) {
		t.Fatalf("backup of a growing file: %v %v", out, err)
	}
	_, err = runAction(t, BackupFilesSpec, map[string]any{"source": src, "destination": t.TempDir(), "prefix": "logs", "onChange": "fail"})
	if f := failure(err); !strings.HasPrefix(f, "FilesChanged: backup.files: 1 files changed while read, twice: app.log") || err.(*temporal.ApplicationError).NonRetryable() {
		t.Errorf("onChange fail: %s", f)
	}
	stopWriting()
	path := out["path"].(string)
	if v, _ := runAction(t, BackupVerifySpec, map[string]any{"path": path}); v["ok"] != true || v["files"] != int64(2) {
		t.Errorf("verify: %v", v)
	}
	target := t.TempDir()
	r, err := runAction(t, RestoreFilesSpec, map[string]any{"path": path, "target": target})
	if err != nil || r["files"] != int64(2) {
		t.Fatalf("restore: %v %v", r, err)
	}
	m, _ := readManifest(path)
	for _, e := range m.Entries {
		if e.Path == "app.log" {
			if sum, size, _ := fileSHA256(filepath.Join(target, "app.log")); sum != e.SHA256 || size != e.Size {
				t.Errorf("restored app.log is not the copy the manifest lists")
			}
		}
	}
}

// What a crashed backup left (.partial files of earlier stamps, idle) is
// removed by the next backup of the prefix, and nothing else is.
func TestBackupCleansOrphanedPartials(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	writeTree(t, src, map[string]string{"a": "alpha"})
	old := time.Now().Add(-time.Hour)
	orphan := filepath.Join(dst, ".app-20200101T000000Z.tar.gz.partial")
	live := filepath.Join(dst, ".app-20200101T000001Z.tar.gz.partial")
	otherPrefix := filepath.Join(dst, ".web-20200101T000000Z.tar.gz.partial")
	for _, p := range []string{orphan, live, otherPrefix} {
		if err := os.WriteFile(p, []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	os.Chtimes(orphan, old, old)
	os.Chtimes(otherPrefix, old, old)
	out, err := runAction(t, BackupFilesSpec, map[string]any{"source": src, "destination": dst, "prefix": "app"})
	if err != nil || !reflect.DeepEqual(out["cleaned"], []any{orphan}) {
		t.Fatalf("cleaned: %v %v", out, err)
	}
	for p, want := range map[string]bool{orphan: false, live: true, otherPrefix: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s exists: %v, want %v", filepath.Base(p), err == nil, want)
		}
	}
}

// Restore writes only into real directories: a symlink already in the
// target, as a directory or as a file, is refused and what it points to
// is left alone.
func TestRestoreNeverFollowsSymlinks(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	writeTree(t, src, map[string]string{"conf/app.yaml": "new", "data": "rows"})
	out, err := runAction(t, BackupFilesSpec, map[string]any{"source": src, "destination": dst, "prefix": "app"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, link, want string }{
		{"a directory", "conf", "BadInput: restore.files: conf in the target is a symlink; restore never follows one"},
		{"a file", "data", "BadInput: restore.files: data in the target is a symlink; restore never follows one"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			target, elsewhere := t.TempDir(), t.TempDir()
			victim := filepath.Join(elsewhere, "victim")
			writeTree(t, elsewhere, map[string]string{"victim": "keep", "app.yaml": "keep"})
			dest := elsewhere
			if tt.link == "data" {
				dest = victim
			}
			if err := os.Symlink(dest, filepath.Join(target, tt.link)); err != nil {
				t.Fatal(err)
			}
			_, err := runAction(t, RestoreFilesSpec, map[string]any{"path": out["path"], "target": target, "overwrite": true})
			if failure(err) != tt.want {
				t.Errorf("got %s", failure(err))
			}
			for _, f := range []string{"victim", "app.yaml"} {
				if b, _ := os.ReadFile(filepath.Join(elsewhere, f)); string(b) != "keep" {
					t.Errorf("restore wrote through the symlink into %s: %q", f, b)
				}
			}
		})
	}
}

// backup.postgres dumps what its typed options select, records them, and
// an empty selection fails unless allowed.
func TestBackupPostgresOptions(t *testing.T) {
	if _, err := exec.LookPath("pg_dump"); err != nil {
		t.Skip("pg_dump is not installed")
	}
	db := pgDatabase(t, "opts")
	for _, stmt := range []string{"CREATE SCHEMA app", "CREATE SCHEMA audit", "CREATE TABLE app.orders (id int)", "CREATE TABLE app.scratch (id int)",
		"CREATE TABLE audit.log (id int)", "INSERT INTO app.orders VALUES (1)"} {
		pgExec(t, db, stmt)
	}
	dst := t.TempDir()
	out, err := runAction(t, BackupPostgresSpec, map[string]any{"dsn": pgDSN(db), "destination": dst, "prefix": "app",
		"schemas": []any{"app"}, "excludeTables": []any{"app.scratch"}, "noOwner": true, "noPrivileges": true})
	if err != nil {
		t.Fatal(err)
	}
	path := out["path"].(string)
	list, err := exec.Command("pg_restore", "--list", path).CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(list), "TABLE app orders") || strings.Contains(string(list), "scratch") || strings.Contains(string(list), "audit") {
		t.Errorf("the dump holds:\n%s", list)
	}
	m, _ := readManifest(path)
	if want := []string{"--schema=app", "--exclude-table=app.scratch", "--no-owner", "--no-privileges"}; !reflect.DeepEqual(m.Options, want) || m.Prefix != "app" || m.Kind != KindPostgres {
		t.Errorf("manifest: %+v", m)
	}
	_, err = runAction(t, BackupPostgresSpec, map[string]any{"dsn": pgDSN(db), "destination": dst, "prefix": "none", "schemas": []any{"nosuch"}})
	if f := failure(err); !strings.HasPrefix(f, ErrPgTool+": ") && !strings.HasPrefix(f, "BackupEmpty: ") {
		t.Errorf("a dump of nothing: %s", f)
	}
	_, err = runAction(t, BackupPostgresSpec, map[string]any{"dsn": pgDSN(db), "destination": dst, "prefix": "app", "schemas": []any{""}})
	if f := failure(err); f != "BadInput: backup.postgres: schemas[0] must be a non-empty name or pattern on one line" {
		t.Errorf("an empty schema: %s", f)
	}
	_, err = runAction(t, BackupPostgresSpec, map[string]any{"dsn": pgDSN(db), "destination": dst, "prefix": "app2", "excludeSchemas": []any{"app", "audit", "public"}})
	if f := failure(err); !strings.HasPrefix(f, "BackupEmpty: backup.postgres: the dump of ") {
		t.Errorf("a dump with no entries: %s", f)
	}
}
