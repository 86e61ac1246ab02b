package activities

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/opsrunbook/runbook/plan"
)

// BackupFilesSpec archives a directory.
var BackupFilesSpec = &plan.ActionSpec{
	Name:        "backup.files",
	Errors:      errorTypes(),
	Description: "Archive a directory as tar.gz into a destination directory, named with a UTC timestamp, with a JSON manifest beside it (files, bytes, sha256). The archive is written under a temporary name and renamed, so a crash never leaves a half backup that looks whole.",
	Heartbeats:  true,
	Inputs: []plan.Field{
		{Name: "source", Type: plan.StringType, Required: true, Description: "Directory to archive.", Role: plan.RolePath},
		{Name: "destination", Type: plan.StringType, Required: true, Description: "Directory the archive and manifest are written to (created if missing).", Role: plan.RolePath},
		{Name: "prefix", Type: plan.StringType, Default: "files", Description: "Name prefix: PREFIX-20261126T020000Z.tar.gz."},
	},
	Outputs: []plan.Field{
		{Name: "path", Type: plan.StringType, Description: "The archive's path."},
		{Name: "bytes", Type: plan.IntType, Description: "The archive's size."},
		{Name: "sha256", Type: plan.StringType, Description: "The archive's SHA-256, hex."},
		{Name: "files", Type: plan.IntType, Description: "Regular files archived."},
		{Name: "manifest", Type: plan.StringType, Description: "The manifest's path."},
	},
}

var _ = register(BackupFilesSpec, runBackupFiles)

// Manifest describes a backup archive; it sits beside it as NAME.manifest.json.
type Manifest struct {
	Archive string          `json:"archive"` // base name
	Kind    string          `json:"kind"`    // files or postgres
	Source  string          `json:"source"`
	Created time.Time       `json:"created"`
	Bytes   int64           `json:"bytes"`
	SHA256  string          `json:"sha256"`
	Files   int             `json:"files"`
	Entries []ManifestEntry `json:"entries,omitempty"`
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
}

// runBackupFiles runs the backup.files action.
func runBackupFiles(ctx context.Context, c call, bi backupFilesInput) (map[string]any, error) {
	if st, err := os.Stat(bi.Source); err != nil || !st.IsDir() {
		return nil, badInput("backup.files: source %s is not a directory", bi.Source)
	}
	if err := os.MkdirAll(bi.Destination, backupDirMode); err != nil {
		return nil, fmt.Errorf("backup.files: %w", err)
	}
	now := time.Now().UTC()
	name := fmt.Sprintf("%s-%s.tar.gz", bi.Prefix, now.Format("20060102T150405Z"))
	final := filepath.Join(bi.Destination, name)
	tmp := filepath.Join(bi.Destination, "."+name+".partial")
	m := &Manifest{Archive: name, Kind: "files", Source: bi.Source, Created: now}
	if err := writeArchive(ctx, tmp, bi.Source, m); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("backup.files: %w", err)
	}
	sum, size, err := fileSHA256(tmp)
	if err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("backup.files: %w", err)
	}
	m.SHA256, m.Bytes = sum, size
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("backup.files: %w", err)
	}
	if err := writeManifest(m, final); err != nil {
		return nil, fmt.Errorf("backup.files: %w", err)
	}
	return map[string]any{"path": final, "bytes": size, "sha256": sum, "files": int64(m.Files), "manifest": ManifestPath(final)}, nil
}

// writeArchive tars and gzips dir into path, filling m's entries.
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
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if info.IsDir() {
			return nil
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(tw, h), src)
		if err != nil {
			return err
		}
		m.Files++
		m.Entries = append(m.Entries, ManifestEntry{Path: hdr.Name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))})
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
