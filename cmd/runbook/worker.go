package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"go.temporal.io/sdk/client"

	"github.com/opsrunbook/runbook/activities"
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
	addr := fs.String("temporal", envOr("RUNBOOK_TEMPORAL", "127.0.0.1:7233"), "Temporal frontend host:port (RUNBOOK_TEMPORAL)")
	ns := fs.String("namespace", envOr("RUNBOOK_NAMESPACE", "default"), "Temporal namespace (RUNBOOK_NAMESPACE)")
	secretsDir := fs.String("secrets-dir", os.Getenv("RUNBOOK_SECRETS_DIR"), "directory of secret files, one per name (RUNBOOK_SECRETS_DIR); RUNBOOK_SECRET_<NAME> variables are read first")
	actions := fs.Int("max-actions", 100, "actions running at once")
	if _, err := interleaved(fs, args); err != nil {
		return err
	}
	c, err := client.Dial(client.Options{HostPort: *addr, Namespace: *ns})
	if err != nil {
		return fmt.Errorf("temporal %s: %w", *addr, err)
	}
	defer c.Close()
	w := worker.New(c, worker.Options{MaxConcurrentActions: *actions, Actions: &activities.Env{Secrets: secretSource(*secretsDir)}})
	fmt.Fprintf(out, "worker on task queue %q of %s (namespace %s); Ctrl-C stops it\n", worker.TaskQueue, *addr, *ns)
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
