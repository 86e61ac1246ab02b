package activities

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/opsrunbook/runbook/plan"

	"go.temporal.io/sdk/temporal"
)

// ErrBackupInvalid is a backup that failed verification: never retried.
const ErrBackupInvalid = "BackupInvalid"

// RestoreFilesSpec restores a files backup.
var RestoreFilesSpec = &plan.ActionSpec{
	Name:        "restore.files",
	Errors:      errorTypes(ErrBackupInvalid, ErrObjectStore, plan.ErrUnreachable),
	Description: "Verify a files backup, then restore it into a target directory. A non-empty target is refused unless overwrite is set; entries that would land outside the target are refused, and so is any path whose existing part in the target is a symlink: restore never follows one.",
	Heartbeats:  true,
	Inputs: withS3([]plan.Field{
		{Name: "path", Type: plan.StringType, Required: true, Description: "The archive made by backup.files.", Role: plan.RolePath},
		{Name: "target", Type: plan.StringType, Required: true, Description: "Directory to restore into (created if missing).", Role: plan.RolePath},
		{Name: "overwrite", Type: plan.BoolType, Default: false, Description: "Restore into a non-empty directory, replacing files."},
	}),
	Outputs: []plan.Field{
		{Name: "files", Type: plan.IntType, Description: "Files restored."},
		{Name: "bytes", Type: plan.IntType, Description: "Bytes restored."},
	},
}

var _ = register(RestoreFilesSpec, runRestoreFiles)

type restoreFilesInput struct {
	Path      string `json:"path"`
	Target    string `json:"target"`
	Overwrite bool   `json:"overwrite"`
	s3Options
}

// fetchVerified brings the backup at path (a file or s3://BUCKET/KEY) to
// a local file and verifies it there: restore reads what it verified.
func fetchVerified(ctx context.Context, action, path, kind string, o s3Options) (*fetchedBackup, error) {
	s, name, err := openBackupPath(ctx, action, path, o)
	if err != nil {
		return nil, err
	}
	b, err := fetchBackup(ctx, action, s, name, kind)
	if err == nil {
		if _, err = b.verify(ctx, false); err != nil {
			b.done()
		}
	}
	switch {
	case err == nil:
		return b, nil
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case isAppErr(err):
		return nil, err
	}
	return nil, temporal.NewNonRetryableApplicationError(action+": the backup does not verify: "+err.Error(), ErrBackupInvalid, nil)
}

// noSymlinkOn refuses a path under root any existing part of which is a
// symlink: restore writes only into what it finds or makes as real
// directories, never where a link points.
func noSymlinkOn(root *os.Root, name string) error {
	parts := strings.Split(name, string(filepath.Separator))
	for i := range parts {
		p := filepath.Join(parts[:i+1]...)
		info, err := root.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			return badInput("restore.files: %s in the target is a symlink; restore never follows one", p)
		}
	}
	return nil
}

// runRestoreFiles runs the restore.files action.
func runRestoreFiles(ctx context.Context, c call, ri restoreFilesInput) (map[string]any, error) {
	b, err := fetchVerified(ctx, "restore.files", ri.Path, KindFiles, ri.s3Options)
	if err != nil {
		return nil, err
	}
	defer b.done()
	if err := os.MkdirAll(ri.Target, 0o755); err != nil {
		return nil, fmt.Errorf("restore.files: %w", err)
	}
	if entries, err := os.ReadDir(ri.Target); err == nil && len(entries) > 0 && !ri.Overwrite {
		return nil, badInput("restore.files: target %s is not empty; set overwrite to restore into it", ri.Target)
	}
	root, err := os.OpenRoot(ri.Target)
	if err != nil {
		return nil, fmt.Errorf("restore.files: %w", err)
	}
	defer root.Close()
	sizes := map[string]int64{} // by name: a file read again while backed up is in the archive twice
	err = walkArchive(b.file, func(hdr *tar.Header, r io.Reader) error {
		name := filepath.FromSlash(hdr.Name)
		if !filepath.IsLocal(name) {
			return badInput("restore.files: entry %s would land outside the target", hdr.Name)
		}
		if err := noSymlinkOn(root, name); err != nil {
			return err
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			return root.MkdirAll(name, 0o755)
		case tar.TypeReg:
			if err := root.MkdirAll(filepath.Dir(name), 0o755); err != nil {
				return err
			}
			f, err := root.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|syscall.O_NOFOLLOW, os.FileMode(hdr.Mode)&0o777)
			if err != nil {
				return err
			}
			n, err := io.Copy(f, r)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			sizes[name] = n
			return err
		}
		return nil
	})
	var refused *temporal.ApplicationError
	if errors.As(err, &refused) {
		return nil, refused
	}
	if err != nil {
		return nil, fmt.Errorf("restore.files: %w", err)
	}
	var bytes int64
	for _, n := range sizes { // a sum: order does not matter
		bytes += n
	}
	return map[string]any{"files": int64(len(sizes)), "bytes": bytes}, nil
}
