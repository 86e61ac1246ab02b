// Command cluster measures the production topology (package cluster: the
// Temporal server as its own process on PostgreSQL with 4 history shards,
// two workers, two API processes behind a round-robin): the dispatch
// latency of runbook runs of regular activities, started one at a time on
// Temporal, then sustained starts through the API at fixed rates. It prints
// the figures docs/benchmarks.md records.
//
//	go build -o bin/runbook ./cmd/runbook && go run ./bench/cluster
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/opsrunbook/runbook/bench/benchrun"
	"github.com/opsrunbook/runbook/cluster"
	"github.com/opsrunbook/runbook/codec"
	"github.com/opsrunbook/runbook/worker"
	"github.com/opsrunbook/runbook/workflows"
)

func main() {
	bin := flag.String("runbook", "bin/runbook", "the runbook binary the cluster runs")
	pg := flag.String("postgres", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "a PostgreSQL administrator's URL")
	steps := flag.Int("steps", 10, "steps of each dispatch-latency run")
	soak := flag.Int("soak", 1000, "dispatch-latency runs, one at a time")
	stall := flag.Duration("stall", time.Second, "a dispatch-latency run slower than this is reported with where its time went")
	rates := flag.String("rates", "10,20,40", "sustained API start rates to try, runs per second, one after the other")
	dur := flag.Duration("duration", 30*time.Second, "how long each rate is sustained")
	sSteps := flag.Int("sustained-steps", 5, "steps of each sustained run")
	actions := flag.String("actions", "log,shell", "the sustained runs' step action: log (local when the API starts it), shell (true; a regular activity)")
	flag.Parse()
	if err := run(*bin, *pg, *steps, *soak, *stall, *rates, *dur, *sSteps, *actions); err != nil {
		fmt.Fprintln(os.Stderr, "cluster bench:", err)
		os.Exit(1)
	}
}

func run(bin, pg string, steps, soakRuns int, stall time.Duration, rates string, dur time.Duration, sSteps int, actions string) error {
	ctx := context.Background()
	abs, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "runbook-bench-cluster-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	log, err := os.Create(filepath.Join(dir, "cluster.log"))
	if err != nil {
		return err
	}
	defer log.Close()
	c, err := cluster.Start(ctx, cluster.Options{Runbook: []string{abs}, Postgres: pg, Dir: dir, Listen: "127.0.0.1:0", Log: log,
		Logf: func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }})
	if err != nil {
		return err
	}
	defer c.Close()
	// Ctrl-C stops the processes and drops the databases, as the end does.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		c.Close()
		os.Exit(130)
	}()
	keys, err := codec.ParseKeys(c.CodecKeys)
	if err != nil {
		return err
	}
	tc, err := client.Dial(client.Options{HostPort: c.Temporal, Namespace: cluster.Namespace,
		DataConverter: keys.DataConverter(), FailureConverter: keys.FailureConverter()})
	if err != nil {
		return err
	}
	defer tc.Close()
	fmt.Printf("Production topology: Temporal %s on PostgreSQL (%d history shards, cluster/dynamicconfig.yaml), %d workers, %d API processes, history encrypted\n\n",
		cluster.TemporalVersion, cluster.HistoryShards, len(c.Workers), len(c.Servers))

	if soakRuns > 0 {
		p, err := benchrun.Plan(steps)
		if err != nil {
			return err
		}
		fmt.Printf("Dispatch latency: %d-step runbook runs of regular activities (log), started on Temporal, %d one at a time\n", steps, soakRuns)
		s := benchrun.Soak{Runs: soakRuns, Concurrent: 1, Stall: stall, Start: func(ctx context.Context, id string) (client.WorkflowRun, error) {
			return tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: worker.TaskQueue}, workflows.WorkflowName,
				workflows.RunInput{Plan: p, Trigger: "api", TriggeredBy: "bench"})
		}}
		res, err := s.Run(ctx, tc, os.Stdout)
		if err != nil {
			return err
		}
		res.Print(os.Stdout, stall)
		fmt.Printf("where the last run's time went:\n%s\n", benchrun.Breakdown(ctx, tc, res.Last))
	}

	httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 200}}
	for _, action := range strings.Split(actions, ",") {
		if action == "" {
			continue
		}
		name := "sustained-" + action
		if err := benchrun.Register(c.API, c.Tokens["admin"], name, action, sSteps); err != nil {
			return err
		}
		fmt.Printf("Sustained starts through the API: %d-step runs of %s, each rate for %s\n", sSteps, action, dur)
		fmt.Printf("%10s %10s %12s %12s %12s %12s %12s\n", "rate", "runs/s", "steps/s", "trigger p50", "trigger p99", "run p50", "run p99")
		for _, r := range strings.Split(rates, ",") {
			rate, err := strconv.ParseFloat(r, 64)
			if err != nil {
				return fmt.Errorf("-rates %q: %w", r, err)
			}
			f, err := sustain(ctx, tc, httpc, c.API, c.Tokens["admin"], name, rate, dur)
			if err != nil {
				return fmt.Errorf("%s at %g/s: %w", name, rate, err)
			}
			fmt.Printf("%8g/s %10.1f %12.1f %10.1fms %10.1fms %10.1fms %10.1fms\n", rate, f.runsPerSec, f.runsPerSec*float64(sSteps),
				benchrun.Ms(benchrun.Pct(f.trigger, 50)), benchrun.Ms(benchrun.Pct(f.trigger, 99)),
				benchrun.Ms(benchrun.Pct(f.run, 50)), benchrun.Ms(benchrun.Pct(f.run, 99)))
		}
		fmt.Println()
	}
	return nil
}

type sustained struct {
	runsPerSec   float64
	trigger, run []time.Duration // sorted
}

// sustain triggers runs of name through the API at rate for dur, waits for
// each to succeed, and measures the completions per second over the whole
// time (first start to last completion), each trigger's answer time and
// each run's time from the trigger to its result.
func sustain(ctx context.Context, tc client.Client, httpc *http.Client, base, token, name string, rate float64, dur time.Duration) (sustained, error) {
	n := int(rate * dur.Seconds())
	trig := make([]time.Duration, n)
	lat := make([]time.Duration, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	began := time.Now()
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	for i := range n {
		if i > 0 {
			<-tick.C
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			id, err := benchrun.Trigger(ctx, httpc, base, token, name)
			trig[i] = time.Since(t0)
			if err == nil {
				err = tc.GetWorkflow(ctx, id, "").Get(ctx, nil)
			}
			lat[i], errs[i] = time.Since(t0), err
		}()
	}
	wg.Wait()
	elapsed := time.Since(began)
	for i, err := range errs {
		if err != nil {
			return sustained{}, fmt.Errorf("run %d: %w", i, err)
		}
	}
	return sustained{runsPerSec: float64(n) / elapsed.Seconds(), trigger: benchrun.Sorted(trig), run: benchrun.Sorted(lat)}, nil
}
