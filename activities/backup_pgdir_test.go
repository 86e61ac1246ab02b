package activities

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// pgShop fills db with a few tables, and returns their row counts as
// restore.postgres reports them.
func pgShop(t *testing.T, db string) map[string]any {
	t.Helper()
	pgExec(t, db, `CREATE TABLE orders (id serial PRIMARY KEY, total int);
		INSERT INTO orders (total) SELECT g FROM generate_series(1, 300) g;
		CREATE TABLE customers (id int PRIMARY KEY, name text);
		INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 40) g;
		CREATE SCHEMA billing; CREATE TABLE billing."Invoices" (id int, amount numeric);
		INSERT INTO billing."Invoices" SELECT g, g * 1.5 FROM generate_series(1, 25) g`)
	return map[string]any{"public.orders": int64(300), "public.customers": int64(40), "billing.Invoices": int64(25)}
}

// privateTmp points TMPDIR at a new directory and fails the test if
// anything is left in it.
func privateTmp(t *testing.T) string {
	t.Helper()
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Cleanup(func() {
		if left, _ := os.ReadDir(tmp); len(left) > 0 {
			t.Errorf("temporary files left in TMPDIR: %v", left)
		}
	})
	return tmp
}

// tarNames lists a tar's entries as type:name.
func tarNames(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		out = append(out, string(hdr.Typeflag)+":"+hdr.Name)
	}
	return out
}

// A directory-format dump with two jobs is one .dir.tar with its files
// in the manifest; list, verify and a parallel restore into a new
// database take it, and nothing is left behind.
func TestBackupPostgresDirectoryFormat(t *testing.T) {
	src := pgDatabase(t, "dirsrc")
	want := pgShop(t, src)
	privateTmp(t)
	dst := t.TempDir()
	out, err := runAction(t, BackupPostgresSpec, map[string]any{"dsn": pgDSN(src), "destination": dst, "prefix": "shop", "format": "directory", "jobs": 2})
	if err != nil {
		t.Fatal(failure(err))
	}
	path := out["path"].(string)
	if a, _, ok := parseBackupName("shop", filepath.Base(path)); !ok || a != directoryDump || filepath.Dir(path) != dst || out["files"].(int64) < 6 {
		t.Errorf("outputs = %v", out)
	}
	m, err := readManifest(path)
	if err != nil || m.Kind != KindPostgres || m.Format != FormatDirectory || m.Jobs != 2 || m.SHA256 != out["sha256"] || m.Files != int(out["files"].(int64)) {
		t.Fatalf("manifest %+v, %v", m, err)
	}
	// The tar holds exactly the manifest's files, each a regular file
	// with a plain name: toc.dat and one data file per table.
	var listed []string
	for _, e := range m.Entries {
		listed = append(listed, "0:"+e.Path)
	}
	if got := tarNames(t, path); !reflect.DeepEqual(got, listed) || !strings.Contains(strings.Join(got, " "), "0:toc.dat") || len(got) != 4 {
		t.Errorf("the tar holds %v, the manifest %v", got, listed)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dst, ".*")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("archive mode: %v %v", st, err)
	}

	l, err := runAction(t, BackupListSpec, map[string]any{"destination": dst, "prefix": "shop"})
	if err != nil || l["latest"] != path || l["count"] != int64(1) {
		t.Errorf("list: %v %v", l, err)
	}
	v, err := runAction(t, BackupVerifySpec, map[string]any{"path": path})
	if err != nil || v["ok"] != true || v["files"] != out["files"] {
		t.Errorf("verify: %v %v", v, err)
	}

	target := pgDatabase(t, "dirdst")
	pgExec(t, "postgres", "DROP DATABASE "+target)
	r, err := runAction(t, RestorePostgresSpec, map[string]any{"path": path, "dsn": pgDSN(target), "createDatabase": true, "jobs": 2})
	if err != nil || !reflect.DeepEqual(r["rows"], want) || r["tables"] != int64(3) {
		t.Errorf("restore: %v %s", r, failure(err))
	}

	// Prune keeps the one backup that verifies.
	p, err := runAction(t, BackupPruneSpec, map[string]any{"destination": dst, "prefix": "shop", "maxAge": "1s", "dryRun": true})
	if err != nil || !reflect.DeepEqual(p["kept"], []any{path}) {
		t.Errorf("prune: %v %v", p, err)
	}
}

// The same over S3: the tar is the one object, its manifest beside it.
func TestS3BackupPostgresDirectoryFormat(t *testing.T) {
	src := pgDatabase(t, "s3dirsrc")
	want := pgShop(t, src)
	d := newS3Dest(t)
	out, err := d.run(t, BackupPostgresSpec, map[string]any{"dsn": pgDSN(src), "destination": d.dest, "prefix": "shop", "format": "directory", "jobs": 2})
	if err != nil {
		t.Fatal(failure(err))
	}
	path := out["path"].(string)
	name := strings.TrimPrefix(path, "s3://backups/nightly/eu/")
	if a, _, ok := parseBackupName("shop", name); !ok || a != directoryDump {
		t.Errorf("outputs = %v", out)
	}
	if objs := d.objects(t); !reflect.DeepEqual(objs, []string{"nightly/eu/" + name, "nightly/eu/" + name + ".manifest.json"}) {
		t.Errorf("objects: %v", objs)
	}
	if l, err := d.run(t, BackupListSpec, map[string]any{"destination": d.dest, "prefix": "shop"}); err != nil || l["latest"] != path {
		t.Errorf("list: %v %v", l, err)
	}
	if v, err := d.run(t, BackupVerifySpec, map[string]any{"path": path}); err != nil || v["ok"] != true || v["files"] != out["files"] {
		t.Errorf("verify: %v %v", v, err)
	}
	target := pgDatabase(t, "s3dirdst")
	pgExec(t, "postgres", "DROP DATABASE "+target)
	r, err := d.run(t, RestorePostgresSpec, map[string]any{"path": path, "dsn": pgDSN(target), "createDatabase": true, "jobs": 2})
	if err != nil || !reflect.DeepEqual(r["rows"], want) {
		t.Errorf("restore: %v %s", r, failure(err))
	}
}

// format and jobs are refused before anything is dumped or written.
func TestBackupPostgresFormatInputs(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "never")
	for _, tt := range []struct {
		name string
		in   map[string]any
		want string
	}{
		{"jobs with custom", map[string]any{"jobs": 4},
			"BadInput: backup.postgres: jobs 4 needs format directory: pg_dump writes the custom format in one job"},
		{"jobs with custom, said", map[string]any{"format": "custom", "jobs": 2},
			"BadInput: backup.postgres: jobs 2 needs format directory: pg_dump writes the custom format in one job"},
		{"no jobs", map[string]any{"format": "directory", "jobs": 0},
			"BadInput: backup.postgres: jobs must be 1 to 64, not 0"},
		{"too many jobs", map[string]any{"format": "directory", "jobs": 65},
			"BadInput: backup.postgres: jobs must be 1 to 64, not 65"},
		{"another format", map[string]any{"format": "tar"},
			`BadInput: backup.postgres: format "tar" is not one of custom, directory`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := map[string]any{"dsn": pgDSN("rb_never_dumped"), "destination": dst}
			for k, v := range tt.in {
				in[k] = v
			}
			_, err := runAction(t, BackupPostgresSpec, in)
			if got := failure(err); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if !appErr(t, err).NonRetryable() {
				t.Error("retryable")
			}
			if _, err := os.Stat(dst); !os.IsNotExist(err) {
				t.Errorf("the destination was made: %v", err)
			}
		})
	}
}

// dumpTar writes a tar of the given entries and a manifest that matches
// the tar's checksum and lists files; it returns the tar's path.
func dumpTar(t *testing.T, dir string, entries []tar.Header, bodies []string, files []ManifestEntry) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i, h := range entries {
		h.Size = int64(len(bodies[i]))
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(bodies[i]))
		}
	}
	tw.Close()
	name := backupName("db", directoryDump, fixedTime)
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	m := Manifest{Archive: name, Prefix: "db", Kind: KindPostgres, Format: FormatDirectory, Jobs: 2, Created: fixedTime,
		Bytes: int64(buf.Len()), SHA256: hex.EncodeToString(sum[:]), Files: 1, Entries: files}
	b, _ := json.Marshal(m)
	if err := os.WriteFile(ManifestPath(path), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func entryOf(name, body string) ManifestEntry {
	sum := sha256.Sum256([]byte(body))
	return ManifestEntry{Path: name, Size: int64(len(body)), SHA256: hex.EncodeToString(sum[:])}
}

// A directory dump's tar whose checksum matches its manifest is still
// refused, by verify and by restore, when it holds anything but the
// manifest's regular files with plain names; nothing is extracted
// outside the private directory, which is removed.
func TestDirectoryDumpExtractsOnlyItsFiles(t *testing.T) {
	reg := func(name string) tar.Header { return tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o600} }
	toc := entryOf("toc.dat", "toc")
	for _, tt := range []struct {
		name    string
		entries []tar.Header
		bodies  []string
		files   []ManifestEntry
		want    string
	}{
		{"a path outside", []tar.Header{reg("../escape")}, []string{"x"}, []ManifestEntry{entryOf("../escape", "x")},
			`"../escape" in the archive is not a plain file name`},
		{"an absolute path", []tar.Header{reg("/tmp/escape")}, []string{"x"}, []ManifestEntry{entryOf("/tmp/escape", "x")},
			`"/tmp/escape" in the archive is not a plain file name`},
		{"a subdirectory", []tar.Header{reg("sub/toc.dat")}, []string{"x"}, []ManifestEntry{entryOf("sub/toc.dat", "x")},
			`"sub/toc.dat" in the archive is not a plain file name`},
		{"a symlink", []tar.Header{{Typeflag: tar.TypeSymlink, Name: "toc.dat", Linkname: "/etc/passwd"}}, []string{""}, []ManifestEntry{toc},
			`"toc.dat" in the archive is not a regular file`},
		{"a hard link", []tar.Header{{Typeflag: tar.TypeLink, Name: "toc.dat", Linkname: "/etc/passwd"}}, []string{""}, []ManifestEntry{toc},
			`"toc.dat" in the archive is not a regular file`},
		{"a directory", []tar.Header{{Typeflag: tar.TypeDir, Name: "toc.dat", Mode: 0o700}}, []string{""}, []ManifestEntry{toc},
			`"toc.dat" in the archive is not a regular file`},
		{"a file twice", []tar.Header{reg("toc.dat"), reg("toc.dat")}, []string{"toc", "toc"}, []ManifestEntry{toc},
			"toc.dat is in the archive twice"},
		{"a file not in the manifest", []tar.Header{reg("toc.dat"), reg("9.dat.gz")}, []string{"toc", "rows"}, []ManifestEntry{toc},
			"9.dat.gz is in the archive but not in the manifest"},
		{"a file changed", []tar.Header{reg("toc.dat")}, []string{"tac"}, []ManifestEntry{toc},
			"toc.dat does not match its checksum"},
		{"a file missing", []tar.Header{reg("toc.dat")}, []string{"toc"}, []ManifestEntry{toc, entryOf("9.dat.gz", "rows")},
			"the archive holds 1 files, the manifest 2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tmp := privateTmp(t)
			path := dumpTar(t, t.TempDir(), tt.entries, tt.bodies, tt.files)
			v, err := runAction(t, BackupVerifySpec, map[string]any{"path": path})
			if err != nil || v["ok"] != false || v["reason"] != tt.want {
				t.Errorf("verify: %v %v\nwant reason %s", v, err, tt.want)
			}
			_, err = runAction(t, RestorePostgresSpec, map[string]any{"path": path, "dsn": pgDSN("rb_never_restored")})
			if got, want := failure(err), "BackupInvalid: restore.postgres: the backup does not verify: "+tt.want; got != want {
				t.Errorf("restore: got  %s\nwant %s", got, want)
			}
			if _, err := os.Lstat(filepath.Join(filepath.Dir(tmp), "escape")); err == nil {
				t.Error("an entry was written outside")
			}
		})
	}
}

// The extracted directory is private and gone once the backup is done
// with.
func TestDirectoryDumpExtractionIsPrivate(t *testing.T) {
	privateTmp(t)
	path := dumpTar(t, t.TempDir(), []tar.Header{{Typeflag: tar.TypeReg, Name: "toc.dat", Mode: 0o644}}, []string{"toc"}, []ManifestEntry{entryOf("toc.dat", "toc")})
	m, err := readManifest(path)
	if err != nil {
		t.Fatal(err)
	}
	dir, done, err := extractDumpDir(context.Background(), path, m)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("directory: %v %v", st, err)
	}
	if st, err := os.Lstat(filepath.Join(dir, "toc.dat")); err != nil || st.Mode() != 0o600 {
		t.Errorf("file: %v %v", st, err)
	}
	done()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("left behind: %v", err)
	}
}

// A dump whose name says one format and whose manifest another does not
// verify.
func TestDumpFormatMustMatchItsName(t *testing.T) {
	dir := t.TempDir()
	path := dumpTar(t, dir, []tar.Header{{Typeflag: tar.TypeReg, Name: "toc.dat", Mode: 0o600}}, []string{"toc"}, []ManifestEntry{entryOf("toc.dat", "toc")})
	renamed := strings.TrimSuffix(path, ".dir.tar") + ".dump"
	b, _ := os.ReadFile(ManifestPath(path))
	b = bytes.Replace(b, []byte(filepath.Base(path)), []byte(filepath.Base(renamed)), 1)
	os.WriteFile(ManifestPath(renamed), b, 0o600)
	os.Rename(path, renamed)
	v, err := runAction(t, BackupVerifySpec, map[string]any{"path": renamed})
	if want := filepath.Base(renamed) + " is not named as a postgres backup of prefix db (db-<UTC stamp>.dir.tar)"; err != nil || v["reason"] != want {
		t.Errorf("verify: %v %v\nwant reason %s", v, err, want)
	}
	l, err := runAction(t, BackupListSpec, map[string]any{"destination": dir, "prefix": "db"})
	if err != nil || l["count"] != int64(0) {
		t.Errorf("list: %v %v", l, err)
	}
}

// fixedTime is when the dumps these tests write by hand were made.
var fixedTime = time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)

// A manifest's kind and format name one archive type; a dump's manifest
// from before formats were recorded is a custom dump.
func TestArchiveOf(t *testing.T) {
	for _, tt := range []struct {
		kind, format string
		want         archiveType
		ok           bool
	}{
		{KindFiles, "", filesArchive, true},
		{KindPostgres, "", customDump, true},
		{KindPostgres, FormatCustom, customDump, true},
		{KindPostgres, FormatDirectory, directoryDump, true},
		{KindFiles, FormatDirectory, archiveType{}, false},
		{KindPostgres, "tar", archiveType{}, false},
		{"mysql", "", archiveType{}, false},
	} {
		if got, ok := archiveOf(&Manifest{Kind: tt.kind, Format: tt.format}); got != tt.want || ok != tt.ok {
			t.Errorf("%s/%s: %v %v, want %v %v", tt.kind, tt.format, got, ok, tt.want, tt.ok)
		}
	}
}
