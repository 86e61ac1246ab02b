package cluster

import (
	"context"
	"crypto/rand"
	"database/sql"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"
)

//go:embed dynamicconfig.yaml
var dynamicConfig []byte

// Options shape a cluster.
type Options struct {
	// Runbook is the command line that runs the runbook binary, before its
	// subcommand, and RunbookEnv what it gets in its environment.
	Runbook    []string
	RunbookEnv []string
	// Postgres is an administrator's URL of the machine's PostgreSQL: the
	// cluster creates its databases there and drops them on Close.
	Postgres string
	// Dir holds the codec key and Temporal's dynamic config.
	Dir string
	// Listen is the round-robin's address in front of the API processes.
	Listen string
	// Workers and Servers count the runbook processes (default 2 each).
	Workers, Servers int
	// MaxActions is each worker's --max-actions (0: the default).
	MaxActions int
	// Log gets every process's output, each line prefixed with its name.
	Log io.Writer
	// Logf reports progress.
	Logf func(string, ...any)
}

// Cluster is a running topology.
type Cluster struct {
	// Temporal is the frontend's host:port; API the round-robin's URL.
	Temporal, API string
	// RecordsDB is the runbook records' postgres:// URL.
	RecordsDB string
	// CodecKeys is the processes' RUNBOOK_CODEC_KEYS (id=FILE): a client
	// of Temporal needs codec.ParseKeys of it to read what runs wrote.
	CodecKeys string
	// Tokens are bearer tokens by user: admin (admin), oscar (operator),
	// ann and bob (approver, group board).
	Tokens                map[string]string
	TemporalProc          *Proc
	Workers, Servers      []*Proc
	Proxy                 *RoundRobin
	Databases             []string
	opts                  Options
	admin                 *sql.DB
	serverAddrs           []string
	workerArgs, workerEnv []string
	proxyServer           io.Closer
}

// ErrNoPostgres is returned when the Postgres URL does not answer.
var ErrNoPostgres = errors.New("no PostgreSQL")

// Start builds what it lacks and starts everything; on an error it stops
// what it started.
func Start(ctx context.Context, o Options) (c *Cluster, err error) {
	if o.Workers == 0 {
		o.Workers = 2
	}
	if o.Servers == 0 {
		o.Servers = 2
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	started := &Cluster{opts: o, Tokens: map[string]string{}}
	c = started
	defer func() {
		if err != nil {
			started.Close()
			c = nil
		}
	}()
	pgURL, err := url.Parse(o.Postgres)
	if err != nil {
		return nil, fmt.Errorf("postgres URL: %w", err)
	}
	if c.admin, err = sql.Open("pgx", o.Postgres); err != nil {
		return nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.admin.PingContext(pingCtx); err != nil {
		return nil, fmt.Errorf("%w at %s: %v", ErrNoPostgres, pgURL.Redacted(), err)
	}
	bins, err := BuildTemporal(o.Logf)
	if err != nil {
		return nil, err
	}
	suffix := randomHex(4)
	pgPort, _ := strconv.Atoi(pgURL.Port())
	if pgPort == 0 {
		pgPort = 5432
	}
	pw, _ := pgURL.User.Password()
	pg := Postgres{Host: pgURL.Hostname(), Port: pgPort, User: pgURL.User.Username(), Password: pw,
		DB: "temporal_" + suffix, VisibilityDB: "temporal_vis_" + suffix}
	records := "runbook_" + suffix
	c.Databases = []string{pg.DB, pg.VisibilityDB, records}

	o.Logf("Temporal %s schemas in %s and %s", TemporalVersion, pg.DB, pg.VisibilityDB)
	for _, s := range []struct{ db, store string }{{pg.DB, "temporal"}, {pg.VisibilityDB, "visibility"}} {
		for _, step := range SchemaSteps(s.db, s.store, bins.SchemaRoot) {
			cmd := exec.CommandContext(ctx, bins.SQLTool, step...)
			cmd.Env = append(os.Environ(), envList(SchemaEnv(pg))...)
			if out, err := cmd.CombinedOutput(); err != nil {
				return nil, fmt.Errorf("temporal-sql-tool %s: %w\n%s", strings.Join(step, " "), err, out)
			}
		}
	}
	if _, err := c.admin.ExecContext(ctx, "CREATE DATABASE "+records); err != nil {
		return nil, fmt.Errorf("records database: %w", err)
	}
	rec := *pgURL
	rec.Path = "/" + records
	c.RecordsDB = rec.String()

	if err := c.startTemporal(ctx, bins, pg); err != nil {
		return nil, err
	}
	if err := c.makeTokens(ctx); err != nil {
		return nil, err
	}
	keyFile := filepath.Join(o.Dir, "codec-keys", "k1.key")
	if err := os.MkdirAll(filepath.Dir(keyFile), 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(keyFile, []byte(randomHex(32)+"\n"), 0o600); err != nil {
		return nil, err
	}
	c.CodecKeys = "k1=" + keyFile
	common := append(append([]string{}, o.RunbookEnv...), "RUNBOOK_CODEC_KEYS="+c.CodecKeys, "RUNBOOK_NAMESPACE="+Namespace)
	c.workerEnv = common
	c.workerArgs = []string{"worker", "--temporal", c.Temporal, "--db", c.RecordsDB}
	if o.MaxActions > 0 {
		c.workerArgs = append(c.workerArgs, "--max-actions", strconv.Itoa(o.MaxActions))
	}
	ports, err := freePorts(o.Servers)
	if err != nil {
		return nil, err
	}
	for i := range o.Workers {
		p := newProc(fmt.Sprintf("worker-%d", i+1), o.Log, common, append(append([]string{}, o.Runbook...), c.workerArgs...)...)
		c.Workers = append(c.Workers, p)
		if err := c.RestartWorker(i); err != nil {
			return nil, err
		}
	}
	for i := range o.Servers {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[i]))
		c.serverAddrs = append(c.serverAddrs, "http://"+addr)
		args := append(append([]string{}, o.Runbook...), "server", "--listen", addr, "--db", c.RecordsDB, "--temporal", c.Temporal)
		c.Servers = append(c.Servers, newProc(fmt.Sprintf("api-%d", i+1), o.Log, common, args...))
		if err := c.RestartServer(i); err != nil {
			return nil, err
		}
	}
	if err := c.startProxy(); err != nil {
		return nil, err
	}
	return c, nil
}

// RestartWorker starts worker i (again, after a Kill) and waits until it
// polls.
func (c *Cluster) RestartWorker(i int) error {
	p := c.Workers[i]
	if err := p.Start(); err != nil {
		return err
	}
	_, err := p.Await("worker on task queue", 2*time.Minute)
	return err
}

// RestartServer starts API process i (again, after a Kill) on its port and
// waits until it is ready.
func (c *Cluster) RestartServer(i int) error {
	p := c.Servers[i]
	if err := p.Start(); err != nil {
		return err
	}
	if _, err := p.Await(`API on http://`, 2*time.Minute); err != nil {
		return err
	}
	return waitHTTP(c.serverAddrs[i]+"/readyz", time.Minute)
}

func (c *Cluster) startTemporal(ctx context.Context, bins Binaries, pg Postgres) error {
	ports, err := freePorts(len(portKeys))
	if err != nil {
		return err
	}
	dc := filepath.Join(c.opts.Dir, DynamicConfigFile)
	if err := os.WriteFile(dc, dynamicConfig, 0o644); err != nil {
		return err
	}
	env := TemporalEnv(pg)
	env["BIND_ON_IP"] = "127.0.0.1"
	env["DYNAMIC_CONFIG_FILE_PATH"] = dc
	env["PPROF_PORT"] = "0"
	env["LOG_LEVEL"] = "warn"
	for i, k := range portKeys {
		env[k] = strconv.Itoa(ports[i])
	}
	c.Temporal = net.JoinHostPort("127.0.0.1", env["FRONTEND_GRPC_PORT"])
	c.TemporalProc = newProc("temporal", c.opts.Log, envList(env), bins.Server, "start")
	c.opts.Logf("Temporal server on %s (%d history shards)", c.Temporal, HistoryShards)
	if err := c.TemporalProc.Start(); err != nil {
		return err
	}
	return c.awaitTemporal(ctx)
}

// awaitTemporal waits for the health check to pass, registers the
// namespace and waits until it can be used.
func (c *Cluster) awaitTemporal(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	var last error
	for ; ctx.Err() == nil; time.Sleep(200 * time.Millisecond) {
		if c.TemporalProc.Exited() {
			return fmt.Errorf("temporal server exited:\n%s", tail(c.TemporalProc.Output()))
		}
		tc, err := client.Dial(client.Options{HostPort: c.Temporal, Namespace: Namespace, Logger: quiet{}})
		if err != nil {
			last = err
			continue
		}
		err = c.namespaceReady(ctx, tc)
		tc.Close()
		if err == nil {
			return nil
		}
		last = err
	}
	return fmt.Errorf("temporal on %s not ready: %v\n%s", c.Temporal, last, tail(c.TemporalProc.Output()))
}

func (c *Cluster) namespaceReady(ctx context.Context, tc client.Client) error {
	// The same call as `temporal operator cluster health`.
	if _, err := tc.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		return err
	}
	if _, err := tc.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: Namespace}); err != nil {
		retention, _ := time.ParseDuration(Retention)
		_, err = tc.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
			Namespace: Namespace, WorkflowExecutionRetentionPeriod: durationpb.New(retention)})
		if err != nil {
			return err
		}
	}
	// Once every service's namespace cache has it, a list answers.
	_, err := tc.WorkflowService().ListWorkflowExecutions(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: Namespace, PageSize: 1})
	return err
}

// makeTokens creates the users' tokens; the first also creates the
// records' tables, before two API processes start on them at once.
func (c *Cluster) makeTokens(ctx context.Context) error {
	for _, u := range []struct{ user, roles, groups string }{
		{"admin", "admin", ""}, {"oscar", "operator", ""}, {"ann", "approver", "board"}, {"bob", "approver", "board"},
	} {
		args := append(append([]string{}, c.opts.Runbook[1:]...), "token", "create", "--db", c.RecordsDB, "--user", u.user, "--roles", u.roles)
		if u.groups != "" {
			args = append(args, "--groups", u.groups)
		}
		cmd := exec.CommandContext(ctx, c.opts.Runbook[0], args...)
		cmd.Env = append(os.Environ(), c.opts.RunbookEnv...)
		out, err := cmd.Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				err = fmt.Errorf("%w: %s", err, ee.Stderr)
			}
			return fmt.Errorf("token create --user %s: %w", u.user, err)
		}
		c.Tokens[u.user] = strings.TrimSpace(string(out))
	}
	return nil
}

// Close stops every process (the API first, Temporal last) and drops the
// databases.
func (c *Cluster) Close() {
	if c.proxyServer != nil {
		c.proxyServer.Close()
	}
	for _, p := range c.Servers {
		p.Stop(10 * time.Second)
	}
	for _, p := range c.Workers {
		p.Stop(10 * time.Second)
	}
	if c.TemporalProc != nil {
		c.TemporalProc.Stop(20 * time.Second)
	}
	if c.admin == nil {
		return
	}
	for _, db := range c.Databases {
		if _, err := c.admin.Exec("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)"); err != nil {
			c.opts.Logf("drop database %s: %v", db, err)
		}
	}
	c.admin.Close()
}

func envList(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
