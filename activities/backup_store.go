package activities

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
)

// backupStore is where a destination's backups live: a directory on the
// worker (localStore) or a key prefix in an S3 bucket (s3Store). Each
// backup is two named objects, the archive NAME and its manifest
// NAME.manifest.json beside it; only an archive with a manifest is a
// backup, and the manifest is always stored last.
//
// Errors: a store's failure to answer (unreachable, refused credentials)
// is a *temporal.ApplicationError, passed on as the action's failure;
// anything else about a backup (a missing manifest, a missing archive) is
// a plain error, which verify reports as the backup not being whole.
type backupStore interface {
	// path is where name is, as outputs and messages show it.
	path(name string) string
	// names lists the names in the store that start with prefix+"-"; a
	// store that does not exist yet holds none.
	names(ctx context.Context, prefix string) ([]string, error)
	// manifest reads name's manifest.
	manifest(ctx context.Context, name string) (*Manifest, error)
	// exists reports whether name is taken.
	exists(ctx context.Context, name string) (bool, error)
	// prepare makes the store ready to take a backup.
	prepare(ctx context.Context) error
	// stage is a local file to build name's archive in, and what removes
	// whatever of it is left when the backup is done.
	stage(name string) (string, func(), error)
	// put stores the archive built in file as name, then m beside it.
	put(ctx context.Context, name, file string, m *Manifest) error
	// fetch is a local file holding name's archive, and what removes it.
	fetch(ctx context.Context, name string) (string, func(), error)
	// remove removes name's archive and manifest.
	remove(ctx context.Context, name string) error
	// clean removes what crashed backups of prefix, older than the one
	// starting at now, left behind, and returns where it was.
	clean(ctx context.Context, prefix string, now time.Time) []any
}

// openDestination is the store a destination input names: s3://BUCKET
// or s3://BUCKET/KEYPREFIX, or an absolute directory, which takes no s3
// inputs.
func openDestination(ctx context.Context, action, dest string, o s3Options) (backupStore, error) {
	if isS3(dest) {
		bucket, key, err := parseS3URL(action, "destination", dest, false)
		if err != nil {
			return nil, err
		}
		return newS3Store(ctx, action, bucket, key, o)
	}
	if err := o.refuseLocal(action, "destination", dest); err != nil {
		return nil, err
	}
	if err := checkDestination(action, dest); err != nil {
		return nil, err
	}
	return localStore{dir: dest}, nil
}

// openBackupPath is the store of a backup's path input, s3://BUCKET/KEY
// or a file, and the backup's name in it.
func openBackupPath(ctx context.Context, action, path string, o s3Options) (backupStore, string, error) {
	if isS3(path) {
		bucket, key, err := parseS3URL(action, "path", path, true)
		if err != nil {
			return nil, "", err
		}
		dir, name := "", key
		if i := strings.LastIndexByte(key, '/'); i >= 0 {
			dir, name = key[:i], key[i+1:]
		}
		s, err := newS3Store(ctx, action, bucket, dir, o)
		return s, name, err
	}
	if err := o.refuseLocal(action, "path", path); err != nil {
		return nil, "", err
	}
	return localStore{dir: filepath.Dir(path)}, filepath.Base(path), nil
}

// localStore is a directory on the worker. Archives are written there
// under a hidden .partial name and renamed when whole, so a crash leaves
// a .partial file, which a later backup of the prefix removes.
type localStore struct{ dir string }

func (s localStore) path(name string) string { return filepath.Join(s.dir, name) }

func (s localStore) names(_ context.Context, prefix string) ([]string, error) {
	entries, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasPrefix(e.Name(), prefix+"-") {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

func (s localStore) manifest(_ context.Context, name string) (*Manifest, error) {
	return readManifest(s.path(name))
}

func (s localStore) exists(_ context.Context, name string) (bool, error) {
	_, err := os.Lstat(s.path(name))
	return err == nil, nil
}

func (s localStore) prepare(context.Context) error { return os.MkdirAll(s.dir, backupDirMode) }

func (s localStore) stage(name string) (string, func(), error) {
	tmp := filepath.Join(s.dir, partialName(name))
	return tmp, func() { os.Remove(tmp) }, nil // a no-op once renamed
}

func (s localStore) put(_ context.Context, name, file string, m *Manifest) error {
	if err := os.Rename(file, s.path(name)); err != nil {
		return err
	}
	return writeManifest(m, s.path(name))
}

func (s localStore) fetch(_ context.Context, name string) (string, func(), error) {
	return s.path(name), func() {}, nil
}

func (s localStore) remove(_ context.Context, name string) error {
	if err := os.Remove(s.path(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	_ = os.Remove(ManifestPath(s.path(name)))
	return nil
}

func (s localStore) clean(_ context.Context, prefix string, now time.Time) []any {
	return cleanPartials(s.dir, prefix, now)
}

// backupFile is one backup in a store.
type backupFile struct {
	name, path string
	created    time.Time
}

// checkSharedPrefix refuses to add kind's backup of source under prefix
// to a store whose backups of that prefix are of another kind or source:
// list and prune by prefix would mix them up.
func checkSharedPrefix(ctx context.Context, action string, s backupStore, dest, prefix, kind, source string) error {
	names, err := s.names(ctx, prefix)
	if err != nil {
		return storeFailed(action, err)
	}
	for _, name := range names {
		if _, _, ok := parseBackupName(prefix, name); !ok {
			continue
		}
		m, err := s.manifest(ctx, name)
		if err != nil {
			if isAppErr(err) {
				return err
			}
			continue
		}
		switch {
		case m.Kind != kind:
			return badInput("%s: %s already holds %s backups named %s-…; give this %s backup another prefix", action, dest, m.Kind, prefix, kind)
		case m.Source != "" && m.Source != source:
			return badInput("%s: %s already holds backups named %s-… of %s, not %s; give each source its own prefix", action, dest, prefix, m.Source, source)
		}
	}
	return nil
}

// storeFailed wraps a store's error for action's failure, keeping a
// typed one as it is.
func storeFailed(action string, err error) error {
	if isAppErr(err) {
		return err
	}
	return fmt.Errorf("%s: %w", action, err)
}

// isAppErr reports whether err is typed for Temporal already.
func isAppErr(err error) bool {
	var app *temporal.ApplicationError
	return errors.As(err, &app)
}
