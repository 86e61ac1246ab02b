// Command runbook-cluster runs the production topology on this machine
// for a person to try (`make cluster`): the Temporal server and its
// schemas on the local PostgreSQL, two workers, two API processes and a
// round-robin in front of them. Ctrl-C stops everything and drops the
// databases it created.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/opsrunbook/runbook/cluster"
)

func main() {
	bin := flag.String("runbook", "bin/runbook", "the runbook binary")
	listen := flag.String("listen", "127.0.0.1:8080", "the round-robin's address, in front of the API processes")
	pg := flag.String("postgres", envOr("RUNBOOK_CLUSTER_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"), "a PostgreSQL administrator's URL: databases are created there and dropped at the end (RUNBOOK_CLUSTER_POSTGRES)")
	dir := flag.String("dir", "", "where the codec key, Temporal's dynamic config and cluster.log go (default: a new temporary directory)")
	flag.Parse()
	if err := run(*bin, *listen, *pg, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "runbook-cluster:", err)
		os.Exit(1)
	}
}

func run(bin, listen, pg, dir string) error {
	abs, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	if dir == "" {
		if dir, err = os.MkdirTemp("", "runbook-cluster-"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	logPath := filepath.Join(dir, "cluster.log")
	log, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer log.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logf := func(f string, a ...any) { fmt.Printf(f+"\n", a...) }
	c, err := cluster.Start(ctx, cluster.Options{Runbook: []string{abs}, Postgres: pg, Dir: dir, Listen: listen, Log: log, Logf: logf})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Println("stopping; dropping databases", c.Databases)
		c.Close()
	}()
	fmt.Printf(`
Temporal  %s (namespace %s; databases %s)
Workers   %d, pids %s
API       %s, round-robin over %d processes (pids %s)
Records   %s
Logs      %s

Tokens (admin; operator oscar; approvers ann and bob in group board):
  RUNBOOK_ADMIN_TOKEN=%s
  RUNBOOK_OPERATOR_TOKEN=%s
  RUNBOOK_ANN_TOKEN=%s
  RUNBOOK_BOB_TOKEN=%s

Try it, in another shell:
  export RUNBOOK_ADDR=%s RUNBOOK_TOKEN=<RUNBOOK_ADMIN_TOKEN above>
  %s apply examples/
Ctrl-C stops it all.
`, c.Temporal, cluster.Namespace, c.Databases, len(c.Workers), pids(c.Workers), c.API, len(c.Servers), pids(c.Servers),
		c.RecordsDB, logPath, c.Tokens["admin"], c.Tokens["oscar"], c.Tokens["ann"], c.Tokens["bob"], c.API, bin)
	<-ctx.Done()
	return nil
}

func pids(ps []*cluster.Proc) string {
	s := ""
	for i, p := range ps {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprint(p.Pid())
	}
	return s
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
