package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/opsrunbook/runbook/bench/benchenv"
	"github.com/opsrunbook/runbook/bench/benchrun"
	"github.com/opsrunbook/runbook/worker"
	"github.com/opsrunbook/runbook/workflows"
)

// soak runs n runbook runs of regular activities, c at a time, on the
// embedded server with its dev and test settings (and -dynamic's), and
// reports their latency and each stall.
func soak(steps, n, c int, stall time.Duration) error {
	ctx := context.Background()
	env, err := benchenv.Start(ctx, worker.Options{MaxConcurrentActions: 200, MaxConcurrentRuns: 200}, nil)
	if err != nil {
		return err
	}
	defer env.Stop()
	p, err := benchrun.Plan(steps)
	if err != nil {
		return err
	}
	fmt.Printf("%d-step runbook runs (log actions) on an embedded Temporal server: %d runs, %d at a time, -dynamic %v\n",
		steps, n, c, benchenv.Dynamic)
	s := benchrun.Soak{Runs: n, Concurrent: c, Stall: stall, Start: func(ctx context.Context, id string) (client.WorkflowRun, error) {
		return env.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: worker.TaskQueue}, workflows.WorkflowName,
			workflows.RunInput{Plan: p, Trigger: "api", TriggeredBy: "bench"})
	}}
	res, err := s.Run(ctx, env.Client, os.Stdout)
	if err != nil {
		return err
	}
	fmt.Println()
	res.Print(os.Stdout, stall)
	fmt.Printf("where the last run's time went:\n%s", benchrun.Breakdown(ctx, env.Client, res.Last))
	return nil
}
