package activities

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"syscall"
)

// A directory-format dump (pg_dump --format=directory, the only format
// pg_dump writes with several jobs) is a directory of files: toc.dat and
// one file per table's data or large object. Every store, and list,
// prune, verify and restore, deal in one archive beside one manifest, so
// the directory is stored as one tar of its files, PREFIX-<stamp>.dir.tar.
// The tar is not compressed: pg_dump compresses the data files already,
// and gzip over them would cost CPU for nothing. The manifest lists each
// file with its size and SHA-256; restore and verify extract only those,
// as regular files with plain names, into a new private directory.

// dumpFileName is what a file of a dump directory may be called: one plain
// name segment (toc.dat, 3170.dat.gz, blobs_3171.toc).
var dumpFileName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$`)

func plainDumpFile(name string) bool {
	return dumpFileName.MatchString(name) && !strings.Contains(name, "..")
}

// tarDumpDir writes the files of the dump directory dir into a new tar at
// path (0600), listing each in m.Entries.
func tarDumpDir(ctx context.Context, dir, path string, m *Manifest) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	entries, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		return err
	}
	f, err := createPrivate(path)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !e.Type().IsRegular() || !plainDumpFile(e.Name()) {
			return fmt.Errorf("pg_dump's directory holds %q, which is not a regular file with a plain name", e.Name())
		}
		entry, err := addDumpFile(tw, root, e.Name())
		if err != nil {
			return fmt.Errorf("archiving %s: %w", e.Name(), err)
		}
		m.Entries = append(m.Entries, entry)
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}

func addDumpFile(tw *tar.Writer, root *os.Root, name string) (ManifestEntry, error) {
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return ManifestEntry{}, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return ManifestEntry{}, err
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: backupFileMode, Size: info.Size(), ModTime: info.ModTime()}); err != nil {
		return ManifestEntry{}, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tw, h), f)
	if err != nil {
		return ManifestEntry{}, err
	}
	return ManifestEntry{Path: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// extractDumpDir extracts the tar of a directory-format dump into a new
// 0700 directory, refusing anything but the regular files with plain
// names the manifest lists, each once and matching its checksum. It
// returns the directory and what removes it; a failure leaves nothing.
func extractDumpDir(ctx context.Context, path string, m *Manifest) (dir string, done func(), err error) {
	want := map[string]ManifestEntry{}
	for _, e := range m.Entries {
		want[e.Path] = e
	}
	dir, remove, err := tempDir()
	if err != nil {
		return "", nil, err
	}
	defer func() {
		if err != nil {
			remove()
		}
	}()
	root, err := os.OpenRoot(dir)
	if err != nil {
		return "", nil, err
	}
	defer root.Close()
	f, err := os.Open(path)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	files := 0
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", nil, fmt.Errorf("reading the archive: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return "", nil, err
		}
		if err := extractDumpFile(root, hdr, tr, want); err != nil {
			return "", nil, err
		}
		files++
	}
	if files != len(want) || files != len(m.Entries) {
		return "", nil, fmt.Errorf("the archive holds %d files, the manifest %d", files, len(m.Entries))
	}
	return dir, remove, nil
}

// extractDumpFile writes one tar entry into root: a new regular file
// (O_EXCL: never over another, never through a link).
func extractDumpFile(root *os.Root, hdr *tar.Header, r io.Reader, want map[string]ManifestEntry) error {
	switch {
	case hdr.Typeflag != tar.TypeReg:
		return fmt.Errorf("%q in the archive is not a regular file", hdr.Name)
	case !plainDumpFile(hdr.Name):
		return fmt.Errorf("%q in the archive is not a plain file name", hdr.Name)
	}
	e, listed := want[hdr.Name]
	if !listed {
		return fmt.Errorf("%s is in the archive but not in the manifest", hdr.Name)
	}
	out, err := root.OpenFile(hdr.Name, os.O_CREATE|os.O_EXCL|os.O_WRONLY|syscall.O_NOFOLLOW, backupFileMode)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s is in the archive twice", hdr.Name)
	}
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), r)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("extracting %s: %w", hdr.Name, err)
	}
	if n != e.Size || hex.EncodeToString(h.Sum(nil)) != e.SHA256 {
		return fmt.Errorf("%s does not match its checksum", hdr.Name)
	}
	return nil
}
