package activities

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/opsrunbook/runbook/plan"

	"go.temporal.io/sdk/temporal"
)

// ErrBackupInvalid is a backup that failed verification: never retried.
const ErrBackupInvalid = "BackupInvalid"

// RestoreFilesSpec restores a files backup.
var RestoreFilesSpec = &plan.ActionSpec{
	Name:        "restore.files",
	Errors:      errorTypes(ErrBackupInvalid),
	Description: "Verify a files backup, then restore it into a target directory. A non-empty target is refused unless overwrite is set; entries that would land outside the target are refused.",
	Heartbeats:  true,
	Inputs: []plan.Field{
		{Name: "path", Type: plan.StringType, Required: true, Description: "The archive made by backup.files.", Role: plan.RolePath},
		{Name: "target", Type: plan.StringType, Required: true, Description: "Directory to restore into (created if missing).", Role: plan.RolePath},
		{Name: "overwrite", Type: plan.BoolType, Default: false, Description: "Restore into a non-empty directory, replacing files."},
	},
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
}

// runRestoreFiles runs the restore.files action.
func runRestoreFiles(ctx context.Context, c call, ri restoreFilesInput) (map[string]any, error) {
	if _, err := verifyBackup(ctx, ri.Path); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, temporal.NewNonRetryableApplicationError("restore.files: the backup does not verify: "+err.Error(), ErrBackupInvalid, nil)
	}
	if err := os.MkdirAll(ri.Target, 0o755); err != nil {
		return nil, fmt.Errorf("restore.files: %w", err)
	}
	if entries, err := os.ReadDir(ri.Target); err == nil && len(entries) > 0 && !ri.Overwrite {
		return nil, badInput("restore.files: target %s is not empty; set overwrite to restore into it", ri.Target)
	}
	root, err := filepath.Abs(ri.Target)
	if err != nil {
		return nil, err
	}
	files, bytes := 0, int64(0)
	err = walkArchive(ri.Path, func(hdr *tar.Header, r io.Reader) error {
		dst := filepath.Join(root, filepath.FromSlash(hdr.Name))
		if dst != root && !strings.HasPrefix(dst, root+string(filepath.Separator)) {
			return fmt.Errorf("entry %s would land outside the target", hdr.Name)
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			return os.MkdirAll(dst, 0o755)
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(hdr.Mode)&0o777)
			if err != nil {
				return err
			}
			n, err := io.Copy(f, r)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			files, bytes = files+1, bytes+n
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("restore.files: %w", err)
	}
	return map[string]any{"files": int64(files), "bytes": bytes}, nil
}
