package activities

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/opsrunbook/runbook/plan"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/temporal"
)

// RestorePostgresSpec restores a database dump.
var RestorePostgresSpec = &plan.ActionSpec{
	Name:        "restore.postgres",
	Errors:      errorTypes(ErrBackupInvalid, ErrPgTool, ErrQuery, plan.ErrUnreachable, ErrObjectStore),
	Description: "Verify a backup.postgres dump, then restore it with pg_restore into a target database and count the rows of every table restored. A target that already holds tables is refused unless clean is set; with createDatabase the target is created first and dropped again if the restore fails. With jobs 1 the restore is one transaction. A directory-format dump (.dir.tar) is extracted for verification into a new private temporary directory, only the regular files with plain names its manifest lists, each checked against its SHA-256 (no path leaves the directory, no link is followed), restored from there and removed after.",
	Heartbeats:  true,
	Inputs: withS3([]plan.Field{
		{Name: "path", Type: plan.StringType, Required: true, Description: "The dump made by backup.postgres.", Role: plan.RolePath},
		{Name: "dsn", Type: plan.StringType, Required: true, Description: "The target database; use ${{ secrets.NAME }}."},
		{Name: "createDatabase", Type: plan.BoolType, Default: false, Description: "Create the target database (it must not exist), connecting to the server's postgres database to do so."},
		{Name: "clean", Type: plan.BoolType, Default: false, Description: "Restore into a database that already holds tables, dropping the dump's objects first."},
		{Name: "jobs", Type: plan.IntType, Default: int64(1), Description: "Parallel pg_restore jobs (--jobs), for a dump of either format; 1 restores in a single transaction."},
	}),
	Outputs: []plan.Field{
		{Name: "tables", Type: plan.IntType, Description: "Tables in the target database after the restore."},
		{Name: "rows", Type: plan.MapOf(plan.IntType), Description: "Row count per table, keyed schema.table."},
		{Name: "seconds", Type: plan.NumberType, Description: "How long pg_restore took (the measured restore time, RTO)."},
		{Name: "backupCreated", Type: plan.StringType, Description: "When the dump restored was made, from its manifest (RFC 3339, UTC)."},
		{Name: "backupAgeSeconds", Type: plan.NumberType, Description: "How old the dump was when the restore started, from its manifest: the data a real recovery would lose (RPO)."},
	},
}

var _ = register(RestorePostgresSpec, runRestorePostgres)

type restorePostgresInput struct {
	Path           string `json:"path"`
	DSN            string `json:"dsn"`
	CreateDatabase bool   `json:"createDatabase"`
	Clean          bool   `json:"clean"`
	Jobs           int    `json:"jobs"`
	s3Options
}

// runRestorePostgres runs the restore.postgres action.
func runRestorePostgres(ctx context.Context, c call, ri restorePostgresInput) (map[string]any, error) {
	if ri.Jobs < 1 {
		return nil, badInput("restore.postgres: jobs must be at least 1, not %d", ri.Jobs)
	}
	b, err := fetchVerified(ctx, "restore.postgres", ri.Path, KindPostgres, ri.s3Options)
	if err != nil {
		return nil, err
	}
	defer b.done()
	pg, err := newPgTool("restore.postgres", ri.DSN)
	if err != nil {
		return nil, err
	}
	defer pg.close()
	defer pg.logTo(ctx, c)()

	if ri.CreateDatabase {
		if err := pgAdmin(ctx, pg.cfg, "CREATE DATABASE "+pgx.Identifier{pg.cfg.Database}.Sanitize()); err != nil {
			return nil, err
		}
	} else if !ri.Clean {
		counts, err := rowCounts(ctx, pg.cfg)
		if err != nil {
			return nil, err
		}
		if len(counts) > 0 {
			return nil, badInput("restore.postgres: database %s already holds %d tables; set clean to restore over them", pg.cfg.Database, len(counts))
		}
	}

	args := []string{"--no-owner", "--exit-on-error", "--dbname=" + pg.cfg.Database}
	if ri.Clean {
		args = append(args, "--clean", "--if-exists")
	}
	if ri.Jobs == 1 {
		args = append(args, "--single-transaction")
	} else {
		args = append(args, "--jobs="+strconv.Itoa(ri.Jobs))
	}
	start := time.Now()
	age := start.Sub(b.m.Created).Seconds()
	_, err = pg.run(ctx, "pg_restore", append(args, b.dump)...)
	seconds := time.Since(start).Seconds()
	if err != nil {
		if ri.CreateDatabase {
			// Leave no half-restored database behind; the next attempt creates it again.
			if derr := pgAdmin(context.WithoutCancel(ctx), pg.cfg, "DROP DATABASE IF EXISTS "+pgx.Identifier{pg.cfg.Database}.Sanitize()); derr != nil {
				err = alsoFailed(err, "dropping the database it created", derr)
			}
		}
		return nil, err
	}
	counts, err := rowCounts(ctx, pg.cfg)
	if err != nil {
		return nil, err
	}
	rows := map[string]any{}
	for k, n := range counts {
		rows[k] = n
	}
	return map[string]any{"tables": int64(len(counts)), "rows": rows, "seconds": seconds,
		"backupCreated": b.m.Created.UTC().Format(time.RFC3339), "backupAgeSeconds": age}, nil
}

// alsoFailed adds a cleanup's failure to err's message, keeping err's
// type and retryability (which a joined error would lose on the way to
// Temporal).
func alsoFailed(err error, what string, cleanup error) error {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		msg := fmt.Sprintf("%s; %s failed too: %v", app.Message(), what, cleanup)
		return temporal.NewApplicationErrorWithOptions(msg, app.Type(), temporal.ApplicationErrorOptions{NonRetryable: app.NonRetryable()})
	}
	return fmt.Errorf("%w; %s failed too: %v", err, what, cleanup)
}

// pgAdmin runs a statement on the server's postgres database.
func pgAdmin(ctx context.Context, target *pgx.ConnConfig, stmt string) error {
	cfg := target.Copy()
	cfg.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return pgError(ctx, "restore.postgres", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return pgError(ctx, "restore.postgres", err)
	}
	return nil
}

// rowCounts counts the rows of every table of a database, by schema.table.
func rowCounts(ctx context.Context, cfg *pgx.ConnConfig) (map[string]int64, error) {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, pgError(ctx, "restore.postgres", err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT table_schema, table_name FROM information_schema.tables
		WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2`)
	if err != nil {
		return nil, pgError(ctx, "restore.postgres", err)
	}
	var tables []pgx.Identifier
	var schema, name string
	_, err = pgx.ForEachRow(rows, []any{&schema, &name}, func() error {
		tables = append(tables, pgx.Identifier{schema, name})
		return nil
	})
	if err != nil {
		return nil, pgError(ctx, "restore.postgres", err)
	}
	counts := map[string]int64{}
	for _, t := range tables {
		var n int64
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+t.Sanitize()).Scan(&n); err != nil {
			return nil, pgError(ctx, "restore.postgres", err)
		}
		counts[t[0]+"."+t[1]] = n
	}
	return counts, nil
}
