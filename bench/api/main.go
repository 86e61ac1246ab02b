// Command api measures triggering runs through the HTTP API against
// starting the same workflows on Temporal directly, side by side on one
// embedded server: N triggers fired at once, the latency of each trigger
// (request to answer), and runs per second until the last run completes.
// Every run must succeed. It prints the figures docs/benchmarks.md records.
//
//	go run ./bench/api -triggers 200 -steps 5 [-db postgres://...]
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/opsrunbook/runbook/bench/benchenv"
	"github.com/opsrunbook/runbook/bench/benchrun"
	"github.com/opsrunbook/runbook/worker"
	"github.com/opsrunbook/runbook/workflows"
)

func main() {
	triggers := flag.Int("triggers", 200, "triggers fired at once per burst")
	steps := flag.Int("steps", 5, "log steps per run")
	rounds := flag.Int("rounds", 15, "bursts per contender (the median is kept)")
	db := flag.String("db", "", "the records: a postgres:// URL, or empty for a SQLite file")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the measured bursts (both contenders) to this file")
	flag.Parse()
	if err := run(*triggers, *steps, *rounds, *db); err != nil {
		fmt.Fprintln(os.Stderr, "api bench:", err)
		os.Exit(1)
	}
}

var cpuProfile string

// burst is what one burst of triggers measured.
type burst struct {
	latency []time.Duration // per trigger, sorted
	rps     float64
}

// contender fires one trigger and returns the run's workflow id.
type contender struct {
	name    string
	trigger func(ctx context.Context, i int) (string, error)
}

func run(n, steps, rounds int, dsn string) error {
	ctx := context.Background()
	env, err := benchenv.Start(ctx, worker.Options{MaxConcurrentActions: 200, MaxConcurrentRuns: 200}, nil)
	if err != nil {
		return err
	}
	defer env.Stop()
	c := env.Client

	a, err := benchenv.StartAPI(c, dsn)
	if err != nil {
		return err
	}
	defer a.Stop()
	st, base, token, records := a.Store, a.Base, a.Token, a.Records
	name := fmt.Sprintf("load-%d", time.Now().UnixNano())
	if err := benchrun.Register(base, token, name, "log", steps); err != nil {
		return err
	}
	v, err := st.Runbook(name, 0)
	if err != nil {
		return err
	}
	plan, err := v.PlanOf()
	if err != nil {
		return err
	}
	httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	contenders := []contender{
		{"Temporal client directly", func(ctx context.Context, i int) (string, error) {
			id := fmt.Sprintf("%s-direct-%d-%d", name, time.Now().UnixNano(), i)
			_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: worker.TaskQueue}, workflows.WorkflowName,
				workflows.RunInput{Plan: plan, Trigger: "api", TriggeredBy: "bench", Version: v.Version, LocalActions: true})
			return id, err
		}},
		{"HTTP API", func(ctx context.Context, i int) (string, error) {
			return benchrun.Trigger(ctx, httpc, base, token, name)
		}},
	}

	fmt.Printf("%d triggers at once, %d-step runs (log), records in %s, on an embedded Temporal server; median of %d bursts\n\n", n, steps, records, rounds)
	for _, k := range contenders { // warm-up
		if _, err := fire(ctx, c, k, n/5); err != nil {
			return fmt.Errorf("%s: %w", k.name, err)
		}
	}
	results := make([][]burst, len(contenders))
	var waits int64
	var waited time.Duration // the records' pool, during the API's bursts
	stopProfile, err := benchrun.Profile(cpuProfile)
	if err != nil {
		return err
	}
	for r := range rounds {
		for j := range contenders {
			i := (j + r) % len(contenders) // each goes first every other round: what a burst leaves behind (garbage, the server's checkpoints) falls on both
			k := contenders[i]
			before := st.Stats()
			b, err := fire(ctx, c, k, n)
			if err != nil {
				return fmt.Errorf("%s: %w", k.name, err)
			}
			if after := st.Stats(); i == 1 {
				waits, waited = waits+after.WaitCount-before.WaitCount, waited+after.WaitDuration-before.WaitDuration
			}
			results[i] = append(results[i], b)
		}
	}
	stopProfile()
	// Each round's API burst against its direct burst, one just after the
	// other: the embedded server's speed drifts over an invocation, and a
	// pair shares its moment.
	var p50s, p99s []float64
	for r := range rounds {
		d, api := results[0][r].latency, results[1][r].latency
		p50s = append(p50s, float64(benchrun.Pct(api, 50))/float64(benchrun.Pct(d, 50)))
		p99s = append(p99s, float64(benchrun.Pct(api, 99))/float64(benchrun.Pct(d, 99)))
	}
	fmt.Printf("%-26s %14s %14s %10s\n", "", "trigger p50", "trigger p99", "runs/s")
	type fig struct{ p50, p99, rps float64 }
	var figs []fig
	for i, k := range contenders {
		bs := results[i]
		slices.SortFunc(bs, func(a, b burst) int { return int(a.rps*1000 - b.rps*1000) })
		med := bs[len(bs)/2]
		f := fig{benchrun.Ms(benchrun.Pct(med.latency, 50)), benchrun.Ms(benchrun.Pct(med.latency, 99)), med.rps}
		figs = append(figs, f)
		fmt.Printf("%-26s %12.1fms %12.1fms %10.1f\n", k.name, f.p50, f.p99, f.rps)
	}
	fmt.Printf("\nrecords' connection pool during the API's bursts: %d waits for a connection, %.1fms per trigger on average\n",
		waits, benchrun.Ms(waited)/float64(rounds*n))
	fmt.Printf("HTTP API / Temporal directly: trigger p50 ratio %.2f, p99 ratio %.2f, throughput ratio %.2f\n",
		figs[1].p50/figs[0].p50, figs[1].p99/figs[0].p99, figs[1].rps/figs[0].rps)
	fmt.Printf("round by round: p50 ratios %s (median %.2f), p99 ratios %s (median %.2f)\n",
		ratios(p50s), median(p50s), ratios(p99s), median(p99s))
	return nil
}

func ratios(xs []float64) string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = fmt.Sprintf("%.2f", x)
	}
	return strings.Join(out, " ")
}

func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	return s[len(s)/2]
}

// fire triggers n runs at once, then waits for every one to succeed.
func fire(ctx context.Context, c client.Client, k contender, n int) (burst, error) {
	begin := time.Now()
	lat := make([]time.Duration, n)
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.Now()
			ids[i], errs[i] = k.trigger(ctx, i)
			lat[i] = time.Since(t)
			if errs[i] == nil {
				errs[i] = c.GetWorkflow(ctx, ids[i], "").Get(ctx, nil)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(begin)
	for i, err := range errs {
		if err != nil {
			return burst{}, fmt.Errorf("run %d (%s): %w", i, ids[i], err)
		}
	}
	slices.Sort(lat)
	return burst{latency: lat, rps: float64(n) / elapsed.Seconds()}, nil
}
