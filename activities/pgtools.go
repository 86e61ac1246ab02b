package activities

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/steplog"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/temporal"
)

// ErrPgTool is pg_dump or pg_restore failing for a reason retrying cannot
// fix (a missing database, a refused login, a broken dump).
const ErrPgTool = "PostgresToolError"

// pgTool runs pg_dump, pg_restore and friends against one database. The
// connection goes through libpq's PG* environment and the password through
// a temporary 0600 PGPASSFILE, so none of it shows on a command line that
// other users of the worker host can read in ps.
type pgTool struct {
	action string // for messages: "backup.postgres"
	cfg    *pgx.ConnConfig
	env    map[string]string // PG* variables, the process's whole environment beside processEnv's
	pass   string            // the temporary password file, removed by close
	lines  *steplog.Buffer   // the step's log lines; nil: none
	redact func(string) string
}

// logTo sends what the tools print to the step's log lines; the returned
// func flushes them.
func (t *pgTool) logTo(ctx context.Context, c call) (close func()) {
	t.lines, t.redact = c.stepLog(ctx), func(s string) string { return redact(ctx, s) }
	return t.lines.Close
}

// libpqEnv maps the conninfo keys pgconn does not keep to libpq variables.
var libpqEnv = map[string]string{
	"sslmode":          "PGSSLMODE",
	"sslrootcert":      "PGSSLROOTCERT",
	"sslcert":          "PGSSLCERT",
	"sslkey":           "PGSSLKEY",
	"connect_timeout":  "PGCONNECT_TIMEOUT",
	"application_name": "PGAPPNAME",
	"options":          "PGOPTIONS",
}

func newPgTool(action, dsn string) (*pgTool, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, badInput("%s: dsn: %v", action, err)
	}
	params, err := conninfoParams(dsn)
	if err != nil {
		return nil, badInput("%s: dsn: %v", action, err)
	}
	// The worker's own PG* variables are not inherited (processEnv), so
	// no other database mixes into this one.
	t := &pgTool{action: action, cfg: withConnectTimeout(cfg), env: map[string]string{
		"PGHOST": cfg.Host, "PGPORT": strconv.Itoa(int(cfg.Port)), "PGUSER": cfg.User, "PGDATABASE": cfg.Database}}
	for k, name := range libpqEnv {
		if v, ok := params[k]; ok {
			t.env[name] = v
		}
	}
	if cfg.Password != "" {
		f, err := os.CreateTemp("", "runbook-pgpass-*") // mode 0600
		if err != nil {
			return nil, fmt.Errorf("%s: %w", action, err)
		}
		t.pass = f.Name()
		esc := strings.NewReplacer(`\`, `\\`, `:`, `\:`).Replace(cfg.Password)
		_, err = f.WriteString("*:*:*:*:" + esc + "\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.close()
			return nil, fmt.Errorf("%s: %w", action, err)
		}
		t.env["PGPASSFILE"] = t.pass
	}
	return t, nil
}

// withConnectTimeout bounds connecting when the DSN does not.
func withConnectTimeout(cfg *pgx.ConnConfig) *pgx.ConnConfig {
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	return cfg
}

func (t *pgTool) close() {
	if t.pass != "" {
		os.Remove(t.pass)
	}
}

// source names the database without credentials, for manifests and logs.
func (t *pgTool) source() string {
	u := url.URL{Scheme: "postgres", User: url.User(t.cfg.User), Host: t.cfg.Host + ":" + strconv.Itoa(int(t.cfg.Port)), Path: "/" + t.cfg.Database}
	if strings.HasPrefix(t.cfg.Host, "/") {
		u.Host = ""
		u.RawQuery = url.Values{"host": {t.cfg.Host}}.Encode()
	}
	return u.String()
}

// run runs a client tool and returns its standard output.
func (t *pgTool) run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := commandContext(ctx, t.env, name, append([]string{"--no-password"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if t.lines != nil {
		so, se := t.lines.Writer(steplog.Stdout, t.redact), t.lines.Writer(steplog.Stderr, t.redact)
		cmd.Stdout, cmd.Stderr = io.MultiWriter(&stdout, so), io.MultiWriter(&stderr, se)
		defer func() { so.Close(); se.Close() }()
	}
	err := cmd.Run()
	switch {
	case err == nil:
		return stdout.String(), nil
	case ctx.Err() != nil:
		return "", ctx.Err()
	case errors.Is(err, exec.ErrNotFound):
		return "", temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %s is not installed on this worker", t.action, name), ErrPgTool, nil)
	}
	msg := fmt.Sprintf("%s: %s: %s", t.action, name, lastLines(stderr.String(), 3))
	if pgUnreachable(stderr.String()) {
		return "", temporal.NewApplicationError(msg, plan.ErrUnreachable)
	}
	return "", temporal.NewNonRetryableApplicationError(msg, ErrPgTool, nil)
}

// pgUnreachable tells a connection that could not be made (worth a retry)
// from one the server refused.
func pgUnreachable(stderr string) bool {
	for _, s := range []string{"Connection refused", "timeout expired", "could not translate host name", "No such file or directory\n\tIs the server running", "the database system is starting up", "the database system is shutting down"} {
		if strings.Contains(stderr, s) {
			return true
		}
	}
	return false
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "; ")
}

// conninfoParams reads the keys of a postgres:// URL's query or of a
// key=value conninfo.
func conninfoParams(dsn string) (map[string]string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return nil, err
		}
		out := map[string]string{}
		for k, v := range u.Query() {
			out[k] = v[len(v)-1]
		}
		return out, nil
	}
	return parseKeyValues(dsn)
}

// parseKeyValues parses libpq's key = 'quoted \' value' syntax.
func parseKeyValues(s string) (map[string]string, error) {
	out := map[string]string{}
	for {
		s = strings.TrimLeft(s, " \t\n\r")
		if s == "" {
			return out, nil
		}
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			return nil, fmt.Errorf("missing = after %q", s)
		}
		key := strings.TrimSpace(s[:eq])
		s = strings.TrimLeft(s[eq+1:], " \t")
		var val strings.Builder
		quoted := strings.HasPrefix(s, "'")
		if quoted {
			s = s[1:]
		}
		i := 0
		for ; i < len(s); i++ {
			c := s[i]
			if c == '\\' && i+1 < len(s) {
				i++
				val.WriteByte(s[i])
				continue
			}
			if quoted && c == '\'' || !quoted && (c == ' ' || c == '\t' || c == '\n') {
				break
			}
			val.WriteByte(c)
		}
		if quoted {
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated quoted value for %s", key)
			}
			i++
		}
		out[key] = val.String()
		s = s[i:]
	}
}
