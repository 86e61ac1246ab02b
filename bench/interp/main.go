// Command interp measures the interpreter against a hand-written Temporal
// workflow that calls the same activities, side by side on one embedded
// server: sequential latency (p50, p99), throughput of concurrent runs, and
// history events per step. It prints the figures and the ratios that
// docs/benchmarks.md records.
//
//	go run ./bench/interp -steps 10 -runs 200 -concurrent 500
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"time"

	sdkworker "go.temporal.io/sdk/worker"

	"github.com/opsrunbook/runbook/bench/benchenv"
	"github.com/opsrunbook/runbook/bench/benchrun"
	"github.com/opsrunbook/runbook/plan"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opsrunbook/runbook/worker"
	"github.com/opsrunbook/runbook/workflows"
)

// handWritten is what a Temporal user would write by hand for the same
// runbook: n log activities in sequence.
func handWritten(ctx workflow.Context, n int) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Hour, RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 1}})
	for i := range n {
		in := plan.ActionInput{Runbook: "bench", StepID: fmt.Sprintf("s%d", i), Inputs: map[string]any{"message": fmt.Sprintf("step %d", i)}}
		var out plan.ActionOutput
		if err := workflow.ExecuteActivity(ctx, "log", in).Get(ctx, &out); err != nil {
			return err
		}
	}
	return nil
}

// contender is one way of running the same n steps.
type contender struct {
	name  string
	start func(ctx context.Context, c client.Client, id string) (client.WorkflowRun, error)
}

func main() {
	steps := flag.Int("steps", 10, "steps per run")
	runs := flag.Int("runs", 200, "sequential runs for latency")
	concurrent := flag.Int("concurrent", 500, "concurrent runs for throughput")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	soakRuns := flag.Int("soak", 0, "instead of the comparison, run this many runbook runs and report their latency and every stall")
	soakConcurrent := flag.Int("soak-concurrent", 1, "runs in flight at once during -soak")
	stall := flag.Duration("stall", time.Second, "a -soak run slower than this is a stall, reported with the longest gap in its history")
	flag.Parse()
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "interp:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "interp:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	do := func() error { return run(*steps, *runs, *concurrent) }
	if *soakRuns > 0 {
		do = func() error { return soak(*steps, *soakRuns, *soakConcurrent, *stall) }
	}
	if err := do(); err != nil {
		fmt.Fprintln(os.Stderr, "interp:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(steps, runs, concurrent int) error {
	ctx := context.Background()
	env, err := benchenv.Start(ctx, worker.Options{MaxConcurrentActions: 200, MaxConcurrentRuns: 200}, func(w sdkworker.Worker) {
		w.RegisterWorkflowWithOptions(handWritten, workflow.RegisterOptions{Name: "HandWritten"})
	})
	if err != nil {
		return err
	}
	defer env.Stop()
	c := env.Client

	plan, err := benchrun.Plan(steps)
	if err != nil {
		return err
	}
	opts := func(id string) client.StartWorkflowOptions {
		return client.StartWorkflowOptions{ID: id, TaskQueue: worker.TaskQueue}
	}
	contenders := []contender{
		{"hand-written workflow", func(ctx context.Context, c client.Client, id string) (client.WorkflowRun, error) {
			return c.ExecuteWorkflow(ctx, opts(id), "HandWritten", steps)
		}},
		{"runbook", func(ctx context.Context, c client.Client, id string) (client.WorkflowRun, error) {
			return c.ExecuteWorkflow(ctx, opts(id), workflows.WorkflowName, workflows.RunInput{Plan: plan, Trigger: "api", TriggeredBy: "bench"})
		}},
		{"runbook, log as local activity", func(ctx context.Context, c client.Client, id string) (client.WorkflowRun, error) {
			return c.ExecuteWorkflow(ctx, opts(id), workflows.WorkflowName, workflows.RunInput{Plan: plan, Trigger: "api", TriggeredBy: "bench", LocalActions: true})
		}},
	}
	fmt.Printf("%d-step runs (log actions) on an embedded Temporal server; %d sequential runs, median of 3 bursts of %d concurrent\n\n", steps, runs, concurrent)
	// Throughput bursts run in rotation, three rounds after a warm-up
	// burst, and each contender keeps its median: a burst's speed depends on
	// what ran before it (server caches, SQLite's memory), not only on the
	// workflow.
	for _, k := range contenders {
		if _, err := throughput(ctx, c, k, concurrent/5); err != nil {
			return err
		}
	}
	bursts := make([][]float64, len(contenders))
	for range 3 {
		for i, k := range contenders {
			rps, err := throughput(ctx, c, k, concurrent)
			if err != nil {
				return err
			}
			bursts[i] = append(bursts[i], rps)
		}
	}
	fmt.Printf("%-32s %9s %9s %12s %14s\n", "", "p50", "p99", "runs/s", "events/step")
	type figures struct{ p50, p99, rps, events float64 }
	var all []figures
	for ki, k := range contenders {
		// Warm up caches, connections and the sticky queue.
		for i := range 5 {
			if _, err := once(ctx, c, k, fmt.Sprintf("warm-%s-%d", slug(k.name), i)); err != nil {
				return err
			}
		}
		lat := make([]time.Duration, 0, runs)
		var lastID string
		for i := range runs {
			lastID = fmt.Sprintf("seq-%s-%d", slug(k.name), i)
			d, err := once(ctx, c, k, lastID)
			if err != nil {
				return err
			}
			lat = append(lat, d)
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		sort.Float64s(bursts[ki])
		rps := bursts[ki][1]
		events, err := historyLength(ctx, c, lastID)
		if err != nil {
			return err
		}
		f := figures{benchrun.Ms(benchrun.Pct(lat, 50)), benchrun.Ms(benchrun.Pct(lat, 99)), rps, float64(events) / float64(steps)}
		all = append(all, f)
		fmt.Printf("%-32s %7.1fms %7.1fms %12.1f %14.1f\n", k.name, f.p50, f.p99, f.rps, f.events)
	}
	base := all[0]
	fmt.Println()
	for i, k := range contenders[1:] {
		f := all[i+1]
		fmt.Printf("%-32s latency p50 ratio %.2f, p99 ratio %.2f, throughput ratio %.2f\n", k.name, f.p50/base.p50, f.p99/base.p99, f.rps/base.rps)
	}
	return nil
}

func once(ctx context.Context, c client.Client, k contender, id string) (time.Duration, error) {
	start := time.Now()
	run, err := k.start(ctx, c, id)
	for try := 1; err != nil && try < 3; try++ { // a start RPC can time out under a burst
		run, err = k.start(ctx, c, id)
	}
	if err != nil {
		return 0, fmt.Errorf("start %s: %w", id, err)
	}
	if err := run.Get(ctx, nil); err != nil {
		return 0, fmt.Errorf("%s: %w", k.name, err)
	}
	return time.Since(start), nil
}

// throughput starts n runs at once and waits for all of them.
func throughput(ctx context.Context, c client.Client, k contender, n int) (float64, error) {
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := once(ctx, c, k, fmt.Sprintf("tput-%s-%d-%d", slug(k.name), start.UnixNano(), i)); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

func historyLength(ctx context.Context, c client.Client, id string) (int, error) {
	it := c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	n := 0
	for it.HasNext() {
		if _, err := it.Next(); err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}

func slug(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, s)
}
