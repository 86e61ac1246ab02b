package activities

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/opsrunbook/runbook/plan"

	"go.temporal.io/sdk/temporal"
)

// BackupPostgresSpec dumps a database.
var BackupPostgresSpec = &plan.ActionSpec{
	Name:        "backup.postgres",
	Errors:      errorTypes(ErrPgTool, plan.ErrUnreachable),
	Description: "Dump a Postgres database with pg_dump -Fc into a destination directory, named with a UTC timestamp, with a JSON manifest beside it (bytes, sha256, dump entries). The dump is written under a temporary name, listed back with pg_restore --list and only then renamed. The password reaches pg_dump through a temporary 0600 password file, never its command line.",
	Heartbeats:  true,
	Inputs: []plan.Field{
		{Name: "dsn", Type: plan.StringType, Required: true, Description: "The database (postgres:// URL or key=value conninfo); use ${{ secrets.NAME }}."},
		{Name: "destination", Type: plan.StringType, Required: true, Description: "Directory the dump and manifest are written to (created if missing).", Role: plan.RolePath},
		{Name: "prefix", Type: plan.StringType, Default: "db", Description: "Name prefix: PREFIX-20261126T020000Z.dump."},
	},
	Outputs: []plan.Field{
		{Name: "path", Type: plan.StringType, Description: "The dump's path."},
		{Name: "bytes", Type: plan.IntType, Description: "The dump's size."},
		{Name: "sha256", Type: plan.StringType, Description: "The dump's SHA-256, hex."},
		{Name: "files", Type: plan.IntType, Description: "Entries in the dump's table of contents."},
		{Name: "manifest", Type: plan.StringType, Description: "The manifest's path."},
	},
}

var _ = register(BackupPostgresSpec, runBackupPostgres)

type backupPostgresInput struct {
	DSN         string `json:"dsn"`
	Destination string `json:"destination"`
	Prefix      string `json:"prefix"`
}

// runBackupPostgres runs the backup.postgres action.
func runBackupPostgres(ctx context.Context, c call, bi backupPostgresInput) (map[string]any, error) {
	dsn, dir, prefix := bi.DSN, bi.Destination, bi.Prefix
	pg, err := newPgTool("backup.postgres", dsn)
	if err != nil {
		return nil, err
	}
	defer pg.close()
	defer pg.logTo(ctx, c)()
	if err := os.MkdirAll(dir, backupDirMode); err != nil {
		return nil, fmt.Errorf("backup.postgres: %w", err)
	}
	now := time.Now().UTC()
	name := fmt.Sprintf("%s-%s.dump", prefix, now.Format("20060102T150405Z"))
	final := filepath.Join(dir, name)
	tmp := filepath.Join(dir, "."+name+".partial")
	defer os.Remove(tmp) // a no-op once renamed
	// pg_dump creates its file 0666 less the umask; made first, it is 0600.
	f, err := createPrivate(tmp)
	if err != nil {
		return nil, fmt.Errorf("backup.postgres: %w", err)
	}
	f.Close()

	if _, err = pg.run(ctx, "pg_dump", "--format=custom", "--file="+tmp); err != nil {
		return nil, err
	}
	list, err := pg.run(ctx, "pg_restore", "--list", tmp)
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Type() == ErrPgTool {
		// Retryable: a new dump may read back.
		return nil, temporal.NewApplicationError("backup.postgres: the dump does not read back: "+app.Message(), ErrPgTool)
	} else if err != nil {
		return nil, err
	}
	sum, size, err := fileSHA256(tmp)
	if err != nil {
		return nil, fmt.Errorf("backup.postgres: %w", err)
	}
	m := &Manifest{Archive: name, Kind: "postgres", Source: pg.source(), Created: now, Bytes: size, SHA256: sum, Files: countDumpEntries(list)}
	if err := os.Rename(tmp, final); err != nil {
		return nil, fmt.Errorf("backup.postgres: %w", err)
	}
	if err := writeManifest(m, final); err != nil {
		return nil, fmt.Errorf("backup.postgres: %w", err)
	}
	return map[string]any{"path": final, "bytes": size, "sha256": sum, "files": int64(m.Files), "manifest": ManifestPath(final)}, nil
}
