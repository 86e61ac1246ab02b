package activities

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/opsrunbook/runbook/plan"

	"go.temporal.io/sdk/temporal"
)

// BackupPostgresSpec dumps a database.
var BackupPostgresSpec = &plan.ActionSpec{
	Name:        "backup.postgres",
	Errors:      errorTypes(ErrPgTool, ErrBackupEmpty, plan.ErrUnreachable, ErrObjectStore),
	Description: "Dump a Postgres database with pg_dump into a destination directory, with a JSON manifest beside it (prefix, kind, source, pg_dump options, format, jobs, bytes, sha256, dump entries). Format custom is one file, PREFIX-<UTC stamp>.dump. Format directory, the one pg_dump writes with several jobs, is dumped into a private temporary directory and stored as one uncompressed tar of its files, PREFIX-<UTC stamp>.dir.tar (pg_dump compresses them already), the manifest listing each file with its size and sha256. The archive is written 0600 under a temporary name, the dump listed back with pg_restore --list, and only then renamed; .partial files an earlier crashed backup of the prefix left are removed. What is dumped is chosen by typed inputs (schemas, tables, exclusions, owner and privileges), each passed to pg_dump as its own argument; there is no free argument string. A dump with no entries fails unless allowEmpty. The password reaches pg_dump through a temporary 0600 password file, never its command line.",
	Heartbeats:  true,
	Needs:       []plan.InputNeeds{{Input: "jobs", Other: "format", Value: FormatDirectory}},
	Inputs: withS3([]plan.Field{
		{Name: "dsn", Type: plan.StringType, Required: true, Description: "The database (postgres:// URL or key=value conninfo); use ${{ secrets.NAME }}."},
		{Name: "destination", Type: plan.StringType, Required: true, Description: "Absolute directory the dump and manifest are written to (created if missing).", Role: plan.RolePath},
		{Name: "prefix", Type: plan.StringType, Default: "db", Description: "Name prefix, one name segment (letters, digits, '_', '-', '.'): PREFIX-20261126T020000Z.dump."},
		{Name: "schemas", Type: plan.ListOf(plan.StringType), Description: "Dump only these schemas (pg_dump --schema, each a pattern)."},
		{Name: "excludeSchemas", Type: plan.ListOf(plan.StringType), Description: "Leave out these schemas (--exclude-schema)."},
		{Name: "tables", Type: plan.ListOf(plan.StringType), Description: "Dump only these tables (--table, each a pattern such as public.orders)."},
		{Name: "excludeTables", Type: plan.ListOf(plan.StringType), Description: "Leave out these tables (--exclude-table)."},
		{Name: "excludeTableData", Type: plan.ListOf(plan.StringType), Description: "Dump these tables' definitions without their rows (--exclude-table-data)."},
		{Name: "noOwner", Type: plan.BoolType, Default: false, Description: "Leave out ownership (--no-owner), to restore as another user."},
		{Name: "noPrivileges", Type: plan.BoolType, Default: false, Description: "Leave out grants (--no-privileges)."},
		{Name: "allowEmpty", Type: plan.BoolType, Default: false, Description: "Accept a dump with no entries (else BackupEmpty); recorded in the manifest."},
		{Name: "format", Type: plan.StringType, Default: FormatCustom, Enum: []string{FormatCustom, FormatDirectory}, Description: "pg_dump's format: custom (--format=custom, PREFIX-<UTC stamp>.dump) or directory (--format=directory, stored as PREFIX-<UTC stamp>.dir.tar); only directory dumps with more than one job."},
		{Name: "jobs", Type: plan.IntType, Default: int64(1), Description: "Tables pg_dump dumps at once (--jobs), 1 to 64, each over its own connection; more than 1 needs format directory."},
	}),
	Outputs: []plan.Field{
		{Name: "path", Type: plan.StringType, Description: "The dump's path."},
		{Name: "bytes", Type: plan.IntType, Description: "The dump's size."},
		{Name: "sha256", Type: plan.StringType, Description: "The dump's SHA-256, hex."},
		{Name: "files", Type: plan.IntType, Description: "Entries in the dump's table of contents."},
		{Name: "manifest", Type: plan.StringType, Description: "The manifest's path."},
		{Name: "cleaned", Type: plan.ListOf(plan.StringType), Description: ".partial files of earlier backups of the prefix removed."},
	},
}

var _ = register(BackupPostgresSpec, runBackupPostgres)

type backupPostgresInput struct {
	DSN              string   `json:"dsn"`
	Destination      string   `json:"destination"`
	Prefix           string   `json:"prefix"`
	Schemas          []string `json:"schemas"`
	ExcludeSchemas   []string `json:"excludeSchemas"`
	Tables           []string `json:"tables"`
	ExcludeTables    []string `json:"excludeTables"`
	ExcludeTableData []string `json:"excludeTableData"`
	NoOwner          bool     `json:"noOwner"`
	NoPrivileges     bool     `json:"noPrivileges"`
	AllowEmpty       bool     `json:"allowEmpty"`
	Format           string   `json:"format"`
	Jobs             int      `json:"jobs"`
	s3Options
}

// maxDumpJobs bounds jobs: each is a connection to the server, and more
// than a few dozen only queue on its disks.
const maxDumpJobs = 64

// archive is the archive type the format and jobs inputs ask for.
func (bi backupPostgresInput) archive() (archiveType, error) {
	if bi.Jobs < 1 || bi.Jobs > maxDumpJobs {
		return archiveType{}, badInput("backup.postgres: jobs must be 1 to %d, not %d", maxDumpJobs, bi.Jobs)
	}
	switch bi.Format {
	case FormatCustom:
		if bi.Jobs > 1 {
			return archiveType{}, badInput("backup.postgres: jobs %d needs format directory: pg_dump writes the custom format in one job", bi.Jobs)
		}
		return customDump, nil
	case FormatDirectory:
		return directoryDump, nil
	}
	return archiveType{}, badInput("backup.postgres: format %q is not one of %s, %s", bi.Format, FormatCustom, FormatDirectory)
}

// dumpOptions are the pg_dump arguments the typed inputs ask for, one
// argument each (a value is never split or read as another flag).
func (bi backupPostgresInput) dumpOptions() ([]string, error) {
	var out []string
	for _, o := range []struct {
		field, flag string
		values      []string
	}{{"schemas", "--schema", bi.Schemas}, {"excludeSchemas", "--exclude-schema", bi.ExcludeSchemas}, {"tables", "--table", bi.Tables},
		{"excludeTables", "--exclude-table", bi.ExcludeTables}, {"excludeTableData", "--exclude-table-data", bi.ExcludeTableData}} {
		for i, v := range o.values {
			if strings.TrimSpace(v) == "" || strings.ContainsAny(v, "\x00\n") {
				return nil, badInput("backup.postgres: %s[%d] must be a non-empty name or pattern on one line", o.field, i)
			}
			out = append(out, o.flag+"="+v)
		}
	}
	if bi.NoOwner {
		out = append(out, "--no-owner")
	}
	if bi.NoPrivileges {
		out = append(out, "--no-privileges")
	}
	return out, nil
}

// runBackupPostgres runs the backup.postgres action.
func runBackupPostgres(ctx context.Context, c call, bi backupPostgresInput) (map[string]any, error) {
	const action = "backup.postgres"
	prefix := bi.Prefix
	if err := checkPrefix(action, prefix); err != nil {
		return nil, err
	}
	archive, err := bi.archive()
	if err != nil {
		return nil, err
	}
	store, err := openDestination(ctx, action, bi.Destination, bi.s3Options)
	if err != nil {
		return nil, err
	}
	opts, err := bi.dumpOptions()
	if err != nil {
		return nil, err
	}
	pg, err := newPgTool(action, bi.DSN)
	if err != nil {
		return nil, err
	}
	defer pg.close()
	if err := checkSharedPrefix(ctx, action, store, bi.Destination, prefix, KindPostgres, pg.source()); err != nil {
		return nil, err
	}
	defer pg.logTo(ctx, c)()
	if err := store.prepare(ctx); err != nil {
		return nil, fmt.Errorf("%s: %w", action, err)
	}
	now := time.Now().UTC()
	cleaned := store.clean(ctx, prefix, now)
	name := backupName(prefix, archive, now)
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
	dump, args, removeDump, err := dumpTarget(archive, tmp, bi.Jobs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", action, err)
	}
	defer removeDump()

	if _, err = pg.run(ctx, "pg_dump", append(args, opts...)...); err != nil {
		return nil, err
	}
	// Whatever pg_dump did to the file, the dump is the worker's only (a
	// directory's parent is a 0700 temporary directory).
	if archive == customDump {
		if err := os.Chmod(tmp, backupFileMode); err != nil {
			return nil, fmt.Errorf("%s: %w", action, err)
		}
	}
	list, err := pg.run(ctx, "pg_restore", "--list", dump)
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Type() == ErrPgTool {
		// Retryable: a new dump may read back.
		return nil, temporal.NewApplicationError(action+": the dump does not read back: "+app.Message(), ErrPgTool)
	} else if err != nil {
		return nil, err
	}
	entries := countDumpEntries(list)
	if entries == 0 && !bi.AllowEmpty {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: the dump of %s has no entries (options %v); set allowEmpty to accept an empty dump", action, pg.source(), opts), ErrBackupEmpty, nil)
	}
	m := &Manifest{Archive: name, Prefix: prefix, Kind: KindPostgres, Source: pg.source(), Created: now, Files: entries,
		AllowEmpty: bi.AllowEmpty, Options: opts, Format: archive.format, Jobs: bi.Jobs}
	if archive == directoryDump {
		if err := tarDumpDir(ctx, dump, tmp, m); err != nil {
			return nil, fmt.Errorf("%s: %w", action, err)
		}
	}
	sum, size, err := fileSHA256(tmp)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", action, err)
	}
	m.Bytes, m.SHA256 = size, sum
	if err := store.put(ctx, name, tmp, m); err != nil {
		return nil, storeFailed(action, err)
	}
	return map[string]any{"path": final, "bytes": size, "sha256": sum, "files": int64(m.Files), "manifest": ManifestPath(final), "cleaned": cleaned}, nil
}

// dumpTarget is where pg_dump writes a dump of type a that is stored from
// tmp, its arguments, and what removes it. A custom dump is tmp itself,
// made 0600 first (pg_dump creates its file 0666 less the umask). A
// directory dump goes to a new 0700 temporary directory, to be tarred
// into tmp: pg_dump needs a directory it makes itself or an empty one.
func dumpTarget(a archiveType, tmp string, jobs int) (dump string, args []string, remove func(), err error) {
	if a == customDump {
		f, err := createPrivate(tmp)
		if err != nil {
			return "", nil, nil, err
		}
		f.Close()
		return tmp, []string{"--format=custom", "--file=" + tmp}, func() {}, nil
	}
	dir, remove, err := tempDir()
	if err != nil {
		return "", nil, nil, err
	}
	dump = filepath.Join(dir, "dump")
	return dump, []string{"--format=directory", "--jobs=" + strconv.Itoa(jobs), "--file=" + dump}, remove, nil
}
