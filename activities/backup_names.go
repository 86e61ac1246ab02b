package activities

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// A backup's identity is its name, PREFIX-<UTC stamp>.<ext>, matched
// exactly (prefix db never matches db-replica-…), and its manifest, which
// records the prefix, kind and source again: list, prune and restore
// compare both.

// backupStamp is the UTC stamp in a backup's name.
const backupStamp = "20060102T150405Z"

// Backup kinds.
const (
	KindFiles    = "files"
	KindPostgres = "postgres"
)

// The formats of a database dump (backup.postgres's format input).
const (
	FormatCustom    = "custom"
	FormatDirectory = "directory"
)

// archiveType is what a backup's archive holds, told by its extension:
// a kind and, for a database dump, pg_dump's format.
type archiveType struct{ ext, kind, format string }

var (
	filesArchive = archiveType{".tar.gz", KindFiles, ""}
	customDump   = archiveType{".dump", KindPostgres, FormatCustom}
	// A directory-format dump is many files; it is stored as one tar of
	// them (see backup_pgdir.go).
	directoryDump = archiveType{".dir.tar", KindPostgres, FormatDirectory}
	archiveTypes  = []archiveType{filesArchive, customDump, directoryDump}
)

// archiveOf is the archive type a manifest describes; a dump made before
// manifests recorded the format is a custom one.
func archiveOf(m *Manifest) (archiveType, bool) {
	format := m.Format
	if m.Kind == KindPostgres && format == "" {
		format = FormatCustom
	}
	for _, a := range archiveTypes {
		if a.kind == m.Kind && a.format == format {
			return a, true
		}
	}
	return archiveType{}, false
}

// describes reports whether m is of archive type a.
func (a archiveType) describes(m *Manifest) bool {
	b, ok := archiveOf(m)
	return ok && a == b
}

// prefixPattern is what a prefix may be: one path segment, no dots first,
// so it can never point outside its destination.
var prefixPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$`)

// checkPrefix refuses a prefix that is not one plain name segment.
func checkPrefix(action, prefix string) error {
	if !prefixPattern.MatchString(prefix) || strings.Contains(prefix, "..") {
		return badInput("%s: prefix %q must be 1 to 100 letters, digits, '_', '-' or '.', starting with a letter or digit, without '..' or '/'", action, prefix)
	}
	return nil
}

// checkDestination refuses a destination that is not an absolute, clean
// path: "/backups/../etc" says one place and means another.
func checkDestination(action, dir string) error {
	switch {
	case dir == "":
		return badInput("%s: destination is empty", action)
	case !filepath.IsAbs(dir):
		return badInput("%s: destination %q must be an absolute path", action, dir)
	case filepath.Clean(dir) != dir:
		return badInput("%s: destination %q is not a clean path (it means %s); write it so", action, dir, filepath.Clean(dir))
	}
	return nil
}

// backupName is the name of an archive of type a of prefix made at t.
func backupName(prefix string, a archiveType, t time.Time) string {
	return prefix + "-" + t.UTC().Format(backupStamp) + a.ext
}

// parseBackupName reads a name of prefix's backups: its archive type and
// stamp, or ok false for any other name.
func parseBackupName(prefix, name string) (a archiveType, at time.Time, ok bool) {
	rest, found := strings.CutPrefix(name, prefix+"-")
	if !found || len(rest) < len(backupStamp) {
		return archiveType{}, time.Time{}, false
	}
	at, err := time.Parse(backupStamp, rest[:len(backupStamp)])
	if err != nil {
		return archiveType{}, time.Time{}, false
	}
	for _, a := range archiveTypes { // the extension matches whole: at most one does
		if rest[len(backupStamp):] == a.ext {
			return a, at, true
		}
	}
	return archiveType{}, time.Time{}, false
}

// partialName is the temporary name an archive is written under.
func partialName(name string) string { return "." + name + ".partial" }

// partialIdle is how long a .partial file must have been left unwritten
// before a later backup of its prefix removes it: a backup that is still
// writing one touches it far more often.
const partialIdle = 2 * time.Minute

// cleanPartials removes the .partial files of prefix's backups older than
// the one starting at now and idle for partialIdle: what a crashed or
// killed backup left. It returns the paths removed.
func cleanPartials(dir, prefix string, now time.Time) []any {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return []any{}
	}
	removed := []any{}
	for _, e := range entries {
		name, ok := strings.CutPrefix(e.Name(), ".")
		if !ok || e.IsDir() {
			continue
		}
		name, ok = strings.CutSuffix(name, ".partial")
		if !ok {
			continue
		}
		name = strings.TrimSuffix(name, ".manifest.json")
		if _, at, ok := parseBackupName(prefix, name); !ok || !at.Before(now.Truncate(time.Second)) {
			continue
		}
		info, err := e.Info()
		if err != nil || now.Sub(info.ModTime()) < partialIdle {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if os.Remove(p) == nil {
			removed = append(removed, p)
		}
	}
	return removed
}

// inside reports whether path is dir or under it.
func inside(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// resolvedDir is dir with every symlink resolved, for comparing places;
// for a dir not made yet, its nearest existing parent's, with the rest.
func resolvedDir(dir string) string {
	dir = filepath.Clean(dir)
	rest := ""
	for {
		if r, err := filepath.EvalSymlinks(dir); err == nil {
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return filepath.Join(dir, rest)
		}
		rest = filepath.Join(filepath.Base(dir), rest)
		dir = parent
	}
}

// errBackupExists tells a backup whose name is taken (another ran in the
// same second): retried, the next attempt gets a new stamp.
func errBackupExists(action, path string) error {
	return fmt.Errorf("%s: %s exists already (another backup of the prefix in the same second)", action, path)
}
