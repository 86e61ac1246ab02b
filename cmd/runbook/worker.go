package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/steplog"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/worker"
)

// runWorker runs a worker against an existing Temporal cluster until
// SIGINT or SIGTERM, then drains it.
func runWorker(args []string, out, errOut io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return workerMain(ctx, args, out, errOut)
}

// workerMain runs the worker until ctx ends.
func workerMain(ctx context.Context, args []string, out, errOut io.Writer) error {
	fs := flags("worker", errOut)
	tf := addTemporalFlags(fs)
	secretsDir := fs.String("secrets-dir", os.Getenv("RUNBOOK_SECRETS_DIR"), "directory of secret files, one per name (RUNBOOK_SECRETS_DIR); RUNBOOK_SECRET_<NAME> variables are read first")
	actions := fs.Int("max-actions", envInt("RUNBOOK_MAX_ACTIONS", 100), "actions running at once (RUNBOOK_MAX_ACTIONS)")
	cache := fs.Int("workflow-cache", envInt("RUNBOOK_WORKFLOW_CACHE", worker.DefaultWorkflowCache), "runs kept in memory between their workflow tasks; one not kept is replayed from its history at its next task (RUNBOOK_WORKFLOW_CACHE)")
	dsn := secretFlag(fs, "db", "RUNBOOK_DB", "", "the records database step logs go to, a SQLite file or a postgres:// URL (RUNBOOK_DB); the worker touches only the log tables, so a role with rights on those alone will do; without it, step logs keep only the tail a failed step's error carries")
	stepBytes := fs.Int64("log-step-bytes", int64(envInt("RUNBOOK_LOG_STEP_BYTES", steplog.DefaultStepBytes)), "bytes of log lines kept per step attempt, the first and last halves (RUNBOOK_LOG_STEP_BYTES)")
	runBytes := fs.Int64("log-run-bytes", int64(envInt("RUNBOOK_LOG_RUN_BYTES", steplog.DefaultRunBytes)), "bytes of log lines kept per run, the first and last halves (RUNBOOK_LOG_RUN_BYTES)")
	publicURL := fs.String("public-url", os.Getenv("RUNBOOK_PUBLIC_URL"), "the URL users reach the web console at (RUNBOOK_PUBLIC_URL): approval and decision notifications end with the link to their page")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	if err := checkPublicURL(*publicURL); err != nil {
		return err
	}
	env := &activities.Env{Secrets: secretSource(*secretsDir), PublicURL: strings.TrimRight(*publicURL, "/")}
	if *dsn != "" {
		st, err := store.OpenLogs(*dsn)
		if err != nil {
			return err
		}
		defer st.Close()
		env.Logs = store.LogSink{Store: st, Caps: steplog.Caps{StepBytes: *stepBytes, RunBytes: *runBytes}}
	} else {
		fmt.Fprintln(errOut, "warning: no --db (RUNBOOK_DB): step logs are not kept, only the tail a failed step's error carries")
	}
	c, err := tf.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	w := worker.New(c, worker.Options{MaxConcurrentActions: *actions, WorkflowCache: *cache, Actions: env})
	fmt.Fprintf(out, "worker on task queue %q of %s (namespace %s); Ctrl-C stops it\n", worker.TaskQueue, *tf.addr, *tf.namespace)
	return w.Run(stopOn(ctx))
}

// stopOn adapts a context to the worker's interrupt channel.
func stopOn(ctx context.Context) <-chan any {
	ch := make(chan any, 1)
	go func() {
		<-ctx.Done()
		ch <- struct{}{}
	}()
	return ch
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// envInt reads a number from the environment; a value that is not one
// keeps the default (the flag's help shows which).
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return n
	}
	return def
}
