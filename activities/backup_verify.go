package activities

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/opsrunbook/runbook/plan"
)

// BackupVerifySpec checks a backup against its manifest.
var BackupVerifySpec = &plan.ActionSpec{
	Name:        "backup.verify",
	Errors:      errorTypes(ErrObjectStore, plan.ErrUnreachable),
	Description: "Check a backup against its manifest: its name against the manifest's prefix, kind and dump format, the archive's SHA-256, then a full read (every file of a tar.gz against its recorded checksum, or pg_restore --list of a database dump; a directory-format dump's tar is first extracted into a private temporary directory, every file against its recorded checksum, and removed after). A backup of 0 files (or a dump of no entries) is not whole unless it was made with allowEmpty or verify is given allowEmpty. A bad backup is the output ok=false with a reason, not a failure.",
	Heartbeats:  true,
	Inputs: withS3([]plan.Field{
		{Name: "path", Type: plan.StringType, Required: true, Description: "The archive; its manifest is PATH.manifest.json.", Role: plan.RolePath},
		{Name: "allowEmpty", Type: plan.BoolType, Default: false, Description: "Accept a backup of 0 files even if it was not made with allowEmpty."},
	}),
	Outputs: []plan.Field{
		{Name: "ok", Type: plan.BoolType, Description: "Whether the backup is whole."},
		{Name: "reason", Type: plan.StringType, Description: "Why it is not, if it is not."},
		{Name: "files", Type: plan.IntType, Description: "Files (or dump entries) read back."},
	},
}

var _ = register(BackupVerifySpec, runBackupVerify)

type backupVerifyInput struct {
	Path       string `json:"path"`
	AllowEmpty bool   `json:"allowEmpty"`
	s3Options
}

// runBackupVerify runs the backup.verify action.
func runBackupVerify(ctx context.Context, c call, vi backupVerifyInput) (map[string]any, error) {
	s, name, err := openBackupPath(ctx, "backup.verify", vi.Path, vi.s3Options)
	if err != nil {
		return nil, err
	}
	files, err := verifyIn(ctx, s, name, vi.AllowEmpty)
	out := map[string]any{"ok": err == nil, "reason": "", "files": int64(files)}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if isAppErr(err) { // the store did not answer: nothing is known of the backup
			return nil, err
		}
		out["reason"] = err.Error()
	}
	return out, nil
}

// fetchedBackup is a backup whose manifest was read and whose archive is
// in a local file, until done.
type fetchedBackup struct {
	m    *Manifest
	file string
	// dump is what pg_restore reads of a database dump once verified: the
	// file, or the directory a directory-format dump was extracted into.
	dump    string
	cleanup []func() // what done removes, last first
}

// done removes the local copies of the backup.
func (b *fetchedBackup) done() {
	for i := len(b.cleanup) - 1; i >= 0; i-- {
		b.cleanup[i]()
	}
	b.cleanup = nil
}

// fetchBackup reads name's manifest, checks the name against it and that
// it is of kind ("" for any: a mismatch is BadInput), then brings the
// archive to a local file.
func fetchBackup(ctx context.Context, action string, s backupStore, name, kind string) (*fetchedBackup, error) {
	m, err := s.manifest(ctx, name)
	if err != nil {
		return nil, err
	}
	if kind != "" && m.Kind != kind {
		what := map[string]string{KindFiles: "a files backup", KindPostgres: "a database dump"}[kind]
		return nil, badInput("%s: %s is a %s backup, not %s", action, s.path(name), m.Kind, what)
	}
	if err := checkIdentity(name, m); err != nil {
		return nil, err
	}
	file, done, err := s.fetch(ctx, name)
	if err != nil {
		return nil, err
	}
	return &fetchedBackup{m: m, file: file, dump: file, cleanup: []func(){done}}, nil
}

// verify returns the files read back, or why the backup is not whole.
func (b *fetchedBackup) verify(ctx context.Context, allowEmpty bool) (int, error) {
	n, err := b.readBack(ctx)
	if err == nil && n == 0 && !b.m.AllowEmpty && !allowEmpty {
		return 0, fmt.Errorf("the backup holds no files (its manifest says %d); it was not made with allowEmpty", b.m.Files)
	}
	return n, err
}

// verifyIn verifies name in s.
func verifyIn(ctx context.Context, s backupStore, name string, allowEmpty bool) (int, error) {
	b, err := fetchBackup(ctx, "backup.verify", s, name, "")
	if err != nil {
		return 0, err
	}
	defer b.done()
	return b.verify(ctx, allowEmpty)
}

// checkIdentity refuses an archive whose name is not its manifest's:
// another prefix, kind or archive name than the one it was made as.
func checkIdentity(name string, m *Manifest) error {
	if m.Archive != name {
		return fmt.Errorf("the manifest is of %s, not %s", m.Archive, name)
	}
	if m.Prefix == "" { // made before manifests recorded the prefix
		return nil
	}
	want, known := archiveOf(m)
	if !known {
		return fmt.Errorf("the manifest's kind %q and format %q are not a backup this engine makes", m.Kind, m.Format)
	}
	if a, _, ok := parseBackupName(m.Prefix, name); !ok || a != want {
		return fmt.Errorf("%s is not named as a %s backup of prefix %s (%s-<UTC stamp>%s)", name, m.Kind, m.Prefix, m.Prefix, want.ext)
	}
	return nil
}

// readBack reads a backup whole against its manifest. A directory-format
// dump is extracted for it, into b.dump, which b.done removes.
func (b *fetchedBackup) readBack(ctx context.Context) (int, error) {
	path, m := b.file, b.m
	sum, size, err := fileSHA256(path)
	if err != nil {
		return 0, fmt.Errorf("reading the archive: %w", err)
	}
	if sum != m.SHA256 || size != m.Bytes {
		return 0, fmt.Errorf("checksum mismatch: the manifest says %s (%d bytes), the archive is %s (%d bytes)", m.SHA256, m.Bytes, sum, size)
	}
	switch a, _ := archiveOf(m); a {
	case filesArchive:
		return readArchive(ctx, path, m)
	case customDump:
		return listDump(ctx, path)
	case directoryDump:
		dir, removeDir, err := extractDumpDir(ctx, path, m)
		if err != nil {
			return 0, err
		}
		b.dump, b.cleanup = dir, append(b.cleanup, removeDir)
		return listDump(ctx, dir)
	}
	return 0, fmt.Errorf("unknown backup kind %q (format %q)", m.Kind, m.Format)
}

// listDump counts the entries of a dump's table of contents.
func listDump(ctx context.Context, dump string) (int, error) {
	out, err := commandContext(ctx, nil, "pg_restore", "--list", dump).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("pg_restore --list: %v: %s", err, lastLine(string(out)))
	}
	return countDumpEntries(string(out)), nil
}

func readManifest(archive string) (*Manifest, error) {
	b, err := os.ReadFile(ManifestPath(archive))
	if err != nil {
		return nil, fmt.Errorf("no manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("unreadable manifest: %w", err)
	}
	return &m, nil
}

// readArchive reads every file of a tar.gz and checks it against the
// manifest's entries. A name the archive holds twice (a file read again
// because it changed) is checked by its last copy, the one extraction
// keeps.
func readArchive(ctx context.Context, path string, m *Manifest) (int, error) {
	want := map[string]ManifestEntry{}
	for _, e := range m.Entries {
		want[e.Path] = e
	}
	got := map[string]ManifestEntry{}
	err := walkArchive(path, func(hdr *tar.Header, r io.Reader) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil
		}
		h := sha256.New()
		size, err := io.Copy(h, r)
		if err != nil {
			return err
		}
		if _, ok := want[hdr.Name]; !ok {
			return fmt.Errorf("%s is in the archive but not in the manifest", hdr.Name)
		}
		got[hdr.Name] = ManifestEntry{Path: hdr.Name, Size: size, SHA256: hex.EncodeToString(h.Sum(nil))}
		return nil
	})
	if err != nil {
		return len(got), err
	}
	for _, e := range m.Entries {
		if g, ok := got[e.Path]; ok && g != e {
			return len(got), fmt.Errorf("%s does not match its checksum", e.Path)
		}
	}
	if len(got) != m.Files || len(got) != len(want) {
		return len(got), fmt.Errorf("the archive holds %d files, the manifest %d", len(got), m.Files)
	}
	return len(got), nil
}

// walkArchive calls fn for each entry of a tar.gz.
func walkArchive(path string, fn func(*tar.Header, io.Reader) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("not a gzip archive: %w", err)
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the archive: %w", err)
		}
		if err := fn(hdr, tr); err != nil {
			return err
		}
	}
}

func countDumpEntries(list string) int {
	n := 0
	for _, line := range splitLines(list) {
		if line != "" && line[0] != ';' {
			n++
		}
	}
	return n
}
