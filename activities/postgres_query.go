package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/opsrunbook/runbook/plan"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.temporal.io/sdk/temporal"
)

// ErrQuery is a query Postgres refused (syntax, permissions, a write in
// the read-only transaction): never retried.
const ErrQuery = "QueryError"

// PostgresQuerySpec runs a read-only query.
var PostgresQuerySpec = &plan.ActionSpec{
	Name:        "postgres.query",
	Errors:      errorTypes(ErrQuery, plan.ErrUnreachable),
	Description: "Run one query in a read-only transaction and return the rows as JSON: for checks such as replication lag or row counts. Writes are refused by Postgres.",
	Heartbeats:  true,
	Inputs: []plan.Field{
		{Name: "dsn", Type: plan.StringType, Required: true, Description: "Connection string (postgres:// URL or key=value); use ${{ secrets.NAME }}."},
		{Name: "query", Type: plan.StringType, Required: true, Description: "SQL; pass values as args ($1, $2...), never spliced into the text.", Role: plan.RoleSQL},
		{Name: "args", Type: plan.ListOf(plan.AnyType), Description: "Query arguments."},
		{Name: "maxRows", Type: plan.IntType, Default: int64(1000), Description: "Rows returned at most."},
	},
	Outputs: []plan.Field{
		{Name: "rows", Type: plan.ListOf(plan.MapOf(plan.AnyType)), Description: "One map per row, by column name."},
		{Name: "count", Type: plan.IntType, Description: "Rows returned."},
		{Name: "columns", Type: plan.ListOf(plan.StringType), Description: "Column names in order."},
	},
}

var _ = register(PostgresQuerySpec, runPostgresQuery)

type postgresQueryInput struct {
	DSN     string `json:"dsn"`
	Query   string `json:"query"`
	Args    []any  `json:"args"`
	MaxRows int    `json:"maxRows"`
}

// runPostgresQuery runs the postgres.query action.
func runPostgresQuery(ctx context.Context, c call, qi postgresQueryInput) (map[string]any, error) {
	cfg, err := pgx.ParseConfig(qi.DSN)
	if err != nil {
		return nil, badInput("postgres.query: dsn: %v", err)
	}
	conn, err := pgx.ConnectConfig(ctx, withConnectTimeout(cfg))
	if err != nil {
		return nil, pgError(ctx, "postgres.query", err)
	}
	defer conn.Close(context.Background())
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, pgError(ctx, "postgres.query", err)
	}
	defer tx.Rollback(context.Background())
	rows, err := tx.Query(ctx, qi.Query, qi.Args...)
	if err != nil {
		return nil, pgError(ctx, "postgres.query", err)
	}
	defer rows.Close()
	var columns []any
	for _, f := range rows.FieldDescriptions() {
		columns = append(columns, f.Name)
	}
	out := []any{}
	for rows.Next() && len(out) < qi.MaxRows {
		vals, err := rows.Values()
		if err != nil {
			return nil, pgError(ctx, "postgres.query", err)
		}
		row := map[string]any{}
		for i, v := range vals {
			row[columns[i].(string)] = jsonable(v)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, pgError(ctx, "postgres.query", err)
	}
	return map[string]any{"rows": out, "count": int64(len(out)), "columns": columns}, nil
}

// jsonable turns a pgx value into plain JSON data.
func jsonable(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []byte:
		return string(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	var out any
	if json.Unmarshal(b, &out) != nil {
		return fmt.Sprint(v)
	}
	return out
}

// pgError classifies a Postgres failure: server-side refusals are
// permanent, connection trouble is retryable.
func pgError(ctx context.Context, action string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %s (SQLSTATE %s)", action, pe.Message, pe.Code), ErrQuery, nil)
	}
	return temporal.NewApplicationError(action+": "+err.Error(), plan.ErrUnreachable)
}
