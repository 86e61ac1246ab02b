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
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/opsrunbook/runbook/plan"
)

// Errors of the backup actions.
const (
	// ErrBackupEmpty is a backup of nothing (0 files, or a dump with no
	// entries) without allowEmpty: never retried.
	ErrBackupEmpty = "BackupEmpty"
	// ErrFilesChanged is a files backup with onChange: fail some of whose
	// files changed while read, twice: retried (a later attempt may catch
	// them still).
	ErrFilesChanged = "FilesChanged"
)

// BackupFilesSpec archives a directory.
var BackupFilesSpec = &plan.ActionSpec{
	Name:        "backup.files",
	Errors:      errorTypes(ErrBackupEmpty, ErrFilesChanged, ErrObjectStore, plan.ErrUnreachable),
	Description: "Archive a directory as tar.gz into a destination directory, named PREFIX-<UTC stamp>.tar.gz, with a JSON manifest beside it (prefix, kind, source, files, bytes, sha256 of the archive and of every file). The archive is written under a temporary name and renamed, so a crash never leaves a half backup that looks whole; .partial files an earlier crashed backup of the prefix left are removed. A source that is a symlink is resolved (the manifest records both); a destination inside the source is refused, as is a prefix already used in the destination for another source or kind. Regular files and directories are archived; symlinks, sockets and devices are not. A file that changes while it is read is read again once; if it changes again it is listed in changed (onChange: warn) or fails the backup (onChange: fail). An archive of 0 files fails unless allowEmpty.",
	Heartbeats:  true,
	Inputs: withS3([]plan.Field{
		{Name: "source", Type: plan.StringType, Required: true, Description: "Directory to archive (a symlink to one is resolved).", Role: plan.RolePath},
		{Name: "destination", Type: plan.StringType, Required: true, Description: "Absolute directory the archive and manifest are written to (created if missing); not inside the source.", Role: plan.RolePath},
		{Name: "prefix", Type: plan.StringType, Default: "files", Description: "Name prefix, one name segment (letters, digits, '_', '-', '.'): PREFIX-20261126T020000Z.tar.gz."},
		{Name: "allowEmpty", Type: plan.BoolType, Default: false, Description: "Accept an archive of 0 files (else BackupEmpty); recorded in the manifest, so verify accepts it too."},
		{Name: "onChange", Type: plan.StringType, Default: "warn", Enum: []string{"warn", "fail"}, Description: "A file that changed while read, twice: warn lists it in changed; fail fails the backup (FilesChanged)."},
	}),
	Outputs: []plan.Field{
		{Name: "path", Type: plan.StringType, Description: "The archive's path."},
		{Name: "bytes", Type: plan.IntType, Description: "The archive's size."},
		{Name: "sha256", Type: plan.StringType, Description: "The archive's SHA-256, hex."},
		{Name: "files", Type: plan.IntType, Description: "Regular files archived."},
		{Name: "manifest", Type: plan.StringType, Description: "The manifest's path."},
		{Name: "source", Type: plan.StringType, Description: "The directory archived, symlinks resolved."},
		{Name: "changed", Type: plan.ListOf(plan.StringType), Description: "Files (relative to the source) that changed while read, twice: their archived copy may be inconsistent."},
		{Name: "cleaned", Type: plan.ListOf(plan.StringType), Description: ".partial files of earlier backups of the prefix removed."},
	},
}

var _ = register(BackupFilesSpec, runBackupFiles)

// Manifest describes a backup archive; it sits beside it as NAME.manifest.json.
type Manifest struct {
	Archive  string    `json:"archive"` // base name
	Prefix   string    `json:"prefix,omitempty"`
	Kind     string    `json:"kind"`   // files or postgres
	Source   string    `json:"source"` // as given (files), or host/database (postgres)
	Resolved string    `json:"resolved,omitempty"`
	Created  time.Time `json:"created"`
	Bytes    int64     `json:"bytes"`
	SHA256   string    `json:"sha256"`
	Files    int       `json:"files"`
	// AllowEmpty records that the backup was made with allowEmpty: 0
	// files is then whole.
	AllowEmpty bool            `json:"allowEmpty,omitempty"`
	Changed    []string        `json:"changed,omitempty"`
	Entries    []ManifestEntry `json:"entries,omitempty"`
	// Options are the pg_dump options a database dump was made with.
	Options []string `json:"options,omitempty"`
	// Format is a database dump's pg_dump format, custom or directory
	// ("" in manifests made before it was recorded: custom); Jobs is how
	// many pg_dump jobs wrote it. The entries of a directory-format dump
	// are the files of its directory.
	Format string `json:"format,omitempty"`
	Jobs   int    `json:"jobs,omitempty"`
}

// ManifestEntry is one file of a files backup.
type ManifestEntry struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// ManifestPath is where an archive's manifest is.
func ManifestPath(archive string) string { return archive + ".manifest.json" }

type backupFilesInput struct {
	Source      string `json:"source"`
	Destination string `json:"destination"`
	Prefix      string `json:"prefix"`
	AllowEmpty  bool   `json:"allowEmpty"`
	OnChange    string `json:"onChange"`
	s3Options
}

// runBackupFiles runs the backup.files action.
func runBackupFiles(ctx context.Context, c call, bi backupFilesInput) (map[string]any, error) {
	const action = "backup.files"
	if err := checkPrefix(action, bi.Prefix); err != nil {
		return nil, err
	}
	store, err := openDestination(ctx, action, bi.Destination, bi.s3Options)
	if err != nil {
		return nil, err
	}
	src, err := filepath.EvalSymlinks(bi.Source)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, badInput("%s: source %s is not a directory: it does not exist", action, bi.Source)
	}
	if err != nil {
		return nil, badInput("%s: source %s: %v", action, bi.Source, err)
	}
	if st, err := os.Stat(src); err != nil || !st.IsDir() {
		return nil, badInput("%s: source %s is not a directory", action, bi.Source)
	}
	if !isS3(bi.Destination) && inside(resolvedDir(bi.Destination), src) {
		return nil, badInput("%s: destination %s is inside the source %s: each backup would hold the ones before it", action, bi.Destination, bi.Source)
	}
	if err := checkSharedPrefix(ctx, action, store, bi.Destination, bi.Prefix, KindFiles, bi.Source); err != nil {
		return nil, err
	}
	if err := store.prepare(ctx); err != nil {
		return nil, fmt.Errorf("%s: %w", action, err)
	}
	now := time.Now().UTC()
	cleaned := store.clean(ctx, bi.Prefix, now)
	name := backupName(bi.Prefix, filesArchive, now)
	final := store.path(name)
	if taken, err := store.exists(ctx, name); err != nil {
		return nil, err
	} else if taken {
		return nil, errBackupExists(action, final)
	}
	tmp, done, err := store.stage(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", action, err)
	}
	defer done()
	m := &Manifest{Archive: name, Prefix: bi.Prefix, Kind: KindFiles, Source: bi.Source, Resolved: src, Created: now, AllowEmpty: bi.AllowEmpty}
	if err := writeArchive(ctx, tmp, src, m); err != nil {
		return nil, fmt.Errorf("%s: %w", action, err)
	}
	if m.Files == 0 && !bi.AllowEmpty {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %s holds no files; set allowEmpty to accept an empty backup", action, bi.Source), ErrBackupEmpty, nil)
	}
	if len(m.Changed) > 0 && bi.OnChange == "fail" {
		return nil, temporal.NewApplicationError(fmt.Sprintf("%s: %d files changed while read, twice: %s", action, len(m.Changed), strings.Join(m.Changed, ", ")), ErrFilesChanged)
	}
	sum, size, err := fileSHA256(tmp)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", action, err)
	}
	m.SHA256, m.Bytes = sum, size
	if err := store.put(ctx, name, tmp, m); err != nil {
		return nil, storeFailed(action, err)
	}
	changed := make([]any, len(m.Changed))
	for i, f := range m.Changed {
		changed[i] = f
	}
	return map[string]any{"path": final, "bytes": size, "sha256": sum, "files": int64(m.Files), "manifest": ManifestPath(final),
		"source": src, "changed": changed, "cleaned": cleaned}, nil
}

// writeArchive tars and gzips dir into path, filling m's entries. A file
// that changed while read (its size or modification time differ after,
// or it ended early) is appended again once, replacing the first copy's
// entry in the manifest (tar keeps the last copy of a name on
// extraction); if it changed again it is listed in m.Changed.
func writeArchive(ctx context.Context, path, dir string, m *Manifest) error {
	f, err := createPrivate(path)
	if err != nil {
		return err
	}
	defer f.Close()
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() && !info.IsDir() {
			return nil // sockets, devices and links are not backed up
		}
		name := filepath.ToSlash(rel)
		if info.IsDir() {
			hdr, err := tar.FileInfoHeader(info, "")
			if err != nil {
				return err
			}
			hdr.Name = name
			return tw.WriteHeader(hdr)
		}
		e, changed, err := archiveFile(tw, p, name, info)
		if err == nil && changed {
			e, changed, err = archiveFile(tw, p, name, nil)
		}
		if err != nil {
			return err
		}
		if changed {
			m.Changed = append(m.Changed, name)
		}
		m.Files++
		m.Entries = append(m.Entries, e)
		return nil
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	return f.Sync()
}

// archiveFile writes one file into tw as it is when opened (info, or
// its state then when nil), and reports whether it changed while read.
func archiveFile(tw *tar.Writer, p, name string, info fs.FileInfo) (ManifestEntry, bool, error) {
	src, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return ManifestEntry{}, false, err
	}
	defer src.Close()
	if info == nil {
		if info, err = src.Stat(); err != nil {
			return ManifestEntry{}, false, err
		}
	}
	hdr, err := tar.FileInfoHeader(info, "")
	if err != nil {
		return ManifestEntry{}, false, err
	}
	hdr.Name = name
	if err := tw.WriteHeader(hdr); err != nil {
		return ManifestEntry{}, false, err
	}
	h := sha256.New()
	n, err := io.CopyN(io.MultiWriter(tw, h), src, hdr.Size)
	short := errors.Is(err, io.EOF)
	if err != nil && !short {
		return ManifestEntry{}, false, err
	}
	if short { // it shrank: pad the entry to the size its header says
		if _, err := io.CopyN(io.MultiWriter(tw, h), zeros{}, hdr.Size-n); err != nil {
			return ManifestEntry{}, false, err
		}
	}
	after, err := src.Stat()
	if err != nil {
		return ManifestEntry{}, false, err
	}
	changed := short || after.Size() != info.Size() || !after.ModTime().Equal(info.ModTime())
	return ManifestEntry{Path: name, Size: hdr.Size, SHA256: hex.EncodeToString(h.Sum(nil))}, changed, nil
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

func writeManifest(m *Manifest, archive string) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	path := ManifestPath(archive)
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".partial")
	f, err := createPrivate(tmp)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// Backups hold whatever the data holds: only the worker's user reads them.
// A destination that exists keeps its mode.
const (
	backupDirMode  = 0o700
	backupFileMode = 0o600
)

// createPrivate creates (or truncates) path with mode 0600, whatever the
// umask, and resets the mode of a file left from an earlier attempt.
func createPrivate(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, backupFileMode)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(backupFileMode); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func fileSHA256(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
