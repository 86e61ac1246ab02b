package activities

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/opsrunbook/runbook/plan"
)

// pgDatabase creates an empty database on the local Postgres for one test
// and drops it afterwards; it skips when Postgres or its tools are missing.
func pgDatabase(t *testing.T, name string) string {
	t.Helper()
	if _, err := exec.LookPath("pg_dump"); err != nil {
		t.Skip("pg_dump is not installed")
	}
	db := fmt.Sprintf("rb_act_%s_%d", name, os.Getpid())
	e := &Env{}
	drop := "DROP DATABASE IF EXISTS " + db
	if _, err := handlerOf(e, PostgresExecSpec)(context.Background(), plan.ActionInput{Inputs: map[string]any{"dsn": pgDSN("postgres"), "statement": drop}}); err != nil {
		if appErr(t, err).Type() == plan.ErrUnreachable {
			t.Skipf("Postgres at 127.0.0.1:5432 is unreachable: %v", err)
		}
		t.Fatal(err)
	}
	pgExec(t, "postgres", "CREATE DATABASE "+db)
	t.Cleanup(func() { pgExec(t, "postgres", drop) })
	return db
}

func pgDSN(db string) string {
	return "host=127.0.0.1 port=5432 user=postgres sslmode=disable dbname=" + db
}

func pgExec(t *testing.T, db, stmt string, args ...any) {
	t.Helper()
	if _, err := handlerOf(&Env{}, PostgresExecSpec)(context.Background(), plan.ActionInput{Inputs: map[string]any{"dsn": pgDSN(db), "statement": stmt, "args": args}}); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

func TestBackupAndRestorePostgres(t *testing.T) {
	src := pgDatabase(t, "src")
	pgExec(t, src, `CREATE TABLE orders (id serial PRIMARY KEY, total int);
		INSERT INTO orders (total) SELECT g FROM generate_series(1, 250) g;
		CREATE SCHEMA billing; CREATE TABLE billing."Invoices" (id int);
		INSERT INTO billing."Invoices" SELECT generate_series(1, 7)`)
	dir := t.TempDir()
	e := &Env{}
	ctx := context.Background()
	out, err := handlerOf(e, BackupPostgresSpec)(ctx, plan.ActionInput{Inputs: map[string]any{"dsn": "postgres://postgres@127.0.0.1:5432/" + src + "?sslmode=disable", "destination": dir}})
	if err != nil {
		t.Fatal(err)
	}
	path := out.Outputs["path"].(string)
	if !strings.HasPrefix(filepath.Base(path), "db-") || !strings.HasSuffix(path, ".dump") || out.Outputs["files"].(int64) < 4 {
		t.Errorf("outputs = %v", out.Outputs)
	}
	m, err := readManifest(path)
	if err != nil || m.Kind != "postgres" || m.Format != FormatCustom || m.Jobs != 1 || len(m.Entries) != 0 || m.Source != "postgres://postgres@127.0.0.1:5432/"+src || m.SHA256 != out.Outputs["sha256"] {
		t.Errorf("manifest %+v, %v", m, err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".*")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
	if v, _ := handlerOf(e, BackupVerifySpec)(ctx, plan.ActionInput{Inputs: map[string]any{"path": path}}); v.Outputs["ok"] != true {
		t.Errorf("verify: %v", v.Outputs)
	}

	target := pgDatabase(t, "dst")
	pgExec(t, "postgres", "DROP DATABASE "+target) // createDatabase makes it
	in := map[string]any{"path": path, "dsn": pgDSN(target), "createDatabase": true}
	out, err = handlerOf(e, RestorePostgresSpec)(ctx, plan.ActionInput{Inputs: in})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"public.orders": int64(250), "billing.Invoices": int64(7)}
	if out.Outputs["tables"] != int64(2) || !reflect.DeepEqual(out.Outputs["rows"], want) || out.Outputs["seconds"].(float64) <= 0 {
		t.Errorf("restore outputs = %v", out.Outputs)
	}

	// The database exists now: creating it again is refused by Postgres,
	// restoring over its tables needs clean.
	_, err = handlerOf(e, RestorePostgresSpec)(ctx, plan.ActionInput{Inputs: in})
	if app := appErr(t, err); app.Type() != ErrQuery || !strings.Contains(app.Error(), "already exists") {
		t.Errorf("create an existing database: %v", app)
	}
	in["createDatabase"] = false
	_, err = handlerOf(e, RestorePostgresSpec)(ctx, plan.ActionInput{Inputs: in})
	if app := appErr(t, err); app.Type() != plan.ErrBadInput || !strings.Contains(app.Error(), "already holds 2 tables; set clean") {
		t.Errorf("restore over tables: %v", app)
	}
	pgExec(t, target, "DELETE FROM orders WHERE id > $1", 10)
	in["clean"] = true
	if out, err = handlerOf(e, RestorePostgresSpec)(ctx, plan.ActionInput{Inputs: in}); err != nil || out.Outputs["rows"].(map[string]any)["public.orders"] != int64(250) {
		t.Errorf("clean restore: %v, %v", out.Outputs, err)
	}

	// One flipped byte: verification fails and nothing is restored.
	b, _ := os.ReadFile(path)
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = handlerOf(e, RestorePostgresSpec)(ctx, plan.ActionInput{Inputs: map[string]any{"path": path, "dsn": pgDSN(target + "_never"), "createDatabase": true}})
	if app := appErr(t, err); app.Type() != ErrBackupInvalid || !app.NonRetryable() {
		t.Errorf("corrupt dump: %v", app)
	}
}

func TestBackupPostgresFailures(t *testing.T) {
	e := &Env{}
	ctx := context.Background()
	pgDatabase(t, "probe") // skips without Postgres
	_, err := handlerOf(e, BackupPostgresSpec)(ctx, plan.ActionInput{Inputs: map[string]any{"dsn": pgDSN("rb_no_such_database"), "destination": t.TempDir()}})
	if app := appErr(t, err); app.Type() != ErrPgTool || !app.NonRetryable() || !strings.Contains(app.Error(), `database "rb_no_such_database" does not exist`) {
		t.Errorf("missing database: %v", app)
	}
	_, err = handlerOf(e, BackupPostgresSpec)(ctx, plan.ActionInput{Inputs: map[string]any{"dsn": "host=127.0.0.1 port=1 user=postgres dbname=x", "destination": t.TempDir()}})
	if app := appErr(t, err); app.Type() != plan.ErrUnreachable || app.NonRetryable() {
		t.Errorf("nothing listening: %v", app)
	}
}

// The password goes to pg_dump through a 0600 file, never argv or the
// environment, and the file is gone afterwards.
func TestPgToolKeepsThePasswordOffTheCommandLine(t *testing.T) {
	t.Setenv("PGPASSWORD", "inherited")
	pg, err := newPgTool("backup.postgres", "postgres://admin:s3cr%3At@db.internal:6432/shop?sslmode=verify-full&application_name=nightly")
	if err != nil {
		t.Fatal(err)
	}
	var pgEnv []string
	for _, kv := range processEnv(pg.env) {
		if strings.HasPrefix(kv, "PG") && !strings.HasPrefix(kv, "PGPASSFILE=") {
			pgEnv = append(pgEnv, kv)
		}
		if strings.Contains(kv, "s3cr") || strings.Contains(kv, "inherited") {
			t.Errorf("the environment holds a password: %s", kv)
		}
	}
	want := []string{"PGAPPNAME=nightly", "PGDATABASE=shop", "PGHOST=db.internal", "PGPORT=6432", "PGSSLMODE=verify-full", "PGUSER=admin"}
	if !reflect.DeepEqual(pgEnv, want) {
		t.Errorf("env = %q, want %q", pgEnv, want)
	}
	st, err := os.Stat(pg.pass)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("password file: %v %v", st, err)
	}
	if b, _ := os.ReadFile(pg.pass); string(b) != "*:*:*:*:s3cr\\:t\n" {
		t.Errorf("password file holds %q", b)
	}
	if pg.source() != "postgres://admin@db.internal:6432/shop" {
		t.Errorf("source = %s", pg.source())
	}
	pg.close()
	if _, err := os.Stat(pg.pass); !os.IsNotExist(err) {
		t.Errorf("password file left behind: %v", err)
	}
}

func TestConninfoParams(t *testing.T) {
	for _, tc := range []struct {
		dsn  string
		want map[string]string
		err  string
	}{
		{"host=a sslmode=require", map[string]string{"host": "a", "sslmode": "require"}, ""},
		{"host = a  application_name='x y'", map[string]string{"host": "a", "application_name": "x y"}, ""},
		{"host=a dbname", nil, `missing = after "dbname"`},
		{`password='it\'s x' sslmode=disable`, map[string]string{"password": "it's x", "sslmode": "disable"}, ""},
		{"password='open", nil, "unterminated quoted value for password"},
		{"postgresql://u@h/db?sslmode=verify-ca&connect_timeout=5", map[string]string{"sslmode": "verify-ca", "connect_timeout": "5"}, ""},
	} {
		got, err := conninfoParams(tc.dsn)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err = %v, want %q", tc.dsn, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %v, %v", tc.dsn, got, err)
		}
	}
}

func TestPostgresExec(t *testing.T) {
	db := pgDatabase(t, "exec")
	e := &Env{}
	ctx := context.Background()
	run := func(stmt string, args ...any) (plan.ActionOutput, error) {
		return handlerOf(e, PostgresExecSpec)(ctx, plan.ActionInput{Inputs: map[string]any{"dsn": pgDSN(db), "statement": stmt, "args": args}})
	}
	if _, err := run("CREATE TABLE t (n int); INSERT INTO t SELECT generate_series(1, 20)"); err != nil {
		t.Fatal(err)
	}
	out, err := run("DELETE FROM t WHERE n > $1", 5)
	if err != nil || out.Outputs["command"] != "DELETE 15" || out.Outputs["rowsAffected"] != int64(15) {
		t.Errorf("delete: %v, %v", out.Outputs, err)
	}
	if out, err = run("VACUUM (ANALYZE) t"); err != nil || out.Outputs["command"] != "VACUUM" {
		t.Errorf("vacuum: %v, %v", out.Outputs, err)
	}
	_, err = run("VACUUM t; SELECT 1")
	if app := appErr(t, err); app.Type() != ErrQuery || !app.NonRetryable() || !strings.Contains(app.Error(), "cannot run inside a transaction block") {
		t.Errorf("vacuum in a transaction: %v", app)
	}
}

func TestAlsoFailedKeepsTheErrorType(t *testing.T) {
	err := alsoFailed(badInput("restore.postgres: boom"), "dropping the database it created", fmt.Errorf("connection refused"))
	app := appErr(t, err)
	if app.Type() != plan.ErrBadInput || !app.NonRetryable() || !strings.Contains(app.Error(), "boom; dropping the database it created failed too: connection refused") {
		t.Errorf("%v (%s, non-retryable %v)", app, app.Type(), app.NonRetryable())
	}
}
