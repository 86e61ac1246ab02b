package activities

import (
	"context"

	"github.com/opsrunbook/runbook/plan"

	"github.com/jackc/pgx/v5"
)

// PostgresExecSpec runs a statement that changes something.
var PostgresExecSpec = &plan.ActionSpec{
	Name:        "postgres.exec",
	Errors:      errorTypes(ErrQuery, plan.ErrUnreachable),
	Description: "Run a statement that changes the database: maintenance (VACUUM, ANALYZE, REINDEX), DDL, or a data fix. Without args the text may hold several statements separated by semicolons, which Postgres runs as one implicit transaction; VACUUM and CREATE/DROP DATABASE must stand alone. With args the text is one statement and the values are bound, never spliced. Use postgres.query to read.",
	Heartbeats:  true,
	Inputs: []plan.Field{
		{Name: "dsn", Type: plan.StringType, Required: true, Description: "Connection string (postgres:// URL or key=value); use ${{ secrets.NAME }}."},
		{Name: "statement", Type: plan.StringType, Required: true, Description: "SQL to run.", Role: plan.RoleSQL},
		{Name: "args", Type: plan.ListOf(plan.AnyType), Description: "Values for $1, $2..."},
	},
	Outputs: []plan.Field{
		{Name: "command", Type: plan.StringType, Description: "The command tag of the last statement, such as \"VACUUM\" or \"DELETE 3\"."},
		{Name: "rowsAffected", Type: plan.IntType, Description: "Rows the last statement inserted, updated or deleted."},
	},
}

var _ = register(PostgresExecSpec, runPostgresExec)

type postgresExecInput struct {
	DSN       string `json:"dsn"`
	Statement string `json:"statement"`
	Args      []any  `json:"args"`
}

// runPostgresExec runs the postgres.exec action.
func runPostgresExec(ctx context.Context, c call, xi postgresExecInput) (map[string]any, error) {
	cfg, err := pgx.ParseConfig(xi.DSN)
	if err != nil {
		return nil, badInput("postgres.exec: dsn: %v", err)
	}
	conn, err := pgx.ConnectConfig(ctx, withConnectTimeout(cfg))
	if err != nil {
		return nil, pgError(ctx, "postgres.exec", err)
	}
	defer conn.Close(context.Background())
	tag, err := conn.Exec(ctx, xi.Statement, xi.Args...)
	if err != nil {
		return nil, pgError(ctx, "postgres.exec", err)
	}
	return map[string]any{"command": tag.String(), "rowsAffected": tag.RowsAffected()}, nil
}
