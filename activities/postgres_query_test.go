package activities

import (
	"context"
	"os/exec"
	"testing"

	"github.com/opsrunbook/runbook/plan"
)

const testDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

func TestPostgresQuery(t *testing.T) {
	e := &Env{}
	ctx := context.Background()
	out, err := handlerOf(e, PostgresQuerySpec)(ctx, plan.ActionInput{Inputs: map[string]any{"dsn": testDSN,
		"query": "SELECT n, n * 2 AS twice, 'row ' || n AS label FROM generate_series(1, $1::int) n", "args": []any{3}}})
	if err != nil {
		if app := appErr(t, err); app.Type() == plan.ErrUnreachable {
			t.Skipf("Postgres at 127.0.0.1:5432 (database test) is unreachable: %v", err)
		}
		t.Fatal(err)
	}
	rows := out.Outputs["rows"].([]any)
	if out.Outputs["count"] != int64(3) || rows[2].(map[string]any)["twice"] != float64(6) || rows[0].(map[string]any)["label"] != "row 1" {
		t.Errorf("outputs = %v", out.Outputs)
	}
	_, err = handlerOf(e, PostgresQuerySpec)(ctx, plan.ActionInput{Inputs: map[string]any{"dsn": testDSN, "query": "CREATE TABLE rb_should_not_exist (id int)"}})
	if app := appErr(t, err); app.Type() != ErrQuery || !app.NonRetryable() {
		t.Errorf("a write: %v", app)
	}
	if b, _ := exec.Command("psql", "-d", testDSN, "-Atc", "SELECT to_regclass('rb_should_not_exist') IS NULL").Output(); string(b) != "t\n" {
		t.Errorf("the write happened: %q", b)
	}
	_, err = handlerOf(e, PostgresQuerySpec)(ctx, plan.ActionInput{Inputs: map[string]any{"dsn": testDSN, "query": "SELEC 1"}})
	if app := appErr(t, err); app.Type() != ErrQuery {
		t.Errorf("a syntax error: %v", app)
	}
	out, _ = handlerOf(e, PostgresQuerySpec)(ctx, plan.ActionInput{Inputs: map[string]any{"dsn": testDSN, "query": "SELECT generate_series(1, 50) AS n", "maxRows": 10}})
	if out.Outputs["count"] != int64(10) {
		t.Errorf("maxRows: %v", out.Outputs["count"])
	}
}
