// Command bigloop runs 10,000-item forEach loops through the API on an
// embedded Temporal server, as docs/benchmarks.md records: one of `log`
// steps and one of two `shell` steps (maxConcurrency 100). It prints, for
// each, the time to complete, items/s, the executions the run handed over
// to and their history lengths, the time GET /api/v1/runs/:id takes
// during and after the run, and the process's peak RSS (server, worker
// and API are one process).
//
//	go run ./bench/bigloop -items 10000
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/bench/benchenv"
	"github.com/opsrunbook/runbook/server"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/worker"
)

const src = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: %s}
spec:
  steps:
    - {id: before, action: log, with: {message: start}}
    - id: fan
      forEach: "lists.range(%d)"
      as: i
      maxConcurrency: 100
      steps:
%s    - {id: after, action: log, with: {message: "${{ string(steps.fan.outputs.succeeded) }} items"}}
`

const logBody = `        - {id: note, action: log, with: {message: "item ${{ string(i) }}"}}
`

const shellBody = `        - {id: one, action: shell, with: {command: [echo, "${{ string(i) }}"]}}
        - {id: two, action: shell, with: {command: [echo, done]}}
`

func main() {
	items := flag.Int("items", 10000, "items of each forEach")
	flag.Parse()
	if err := run(*items); err != nil {
		fmt.Fprintln(os.Stderr, "bigloop:", err)
		os.Exit(1)
	}
}

func run(items int) error {
	ctx := context.Background()
	env, err := benchenv.Start(ctx, worker.Options{Actions: &activities.Env{Secrets: activities.EnvSecrets{}}}, nil)
	if err != nil {
		return err
	}
	defer env.Stop()
	c := env.Client
	dir, err := os.MkdirTemp("", "bigloop")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := store.Open(filepath.Join(dir, "bench.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	api := &server.API{Store: st, Temporal: c, TaskQueue: worker.TaskQueue, Catalog: activities.Catalog()}
	hs := httptest.NewServer(api.Handler())
	defer hs.Close()
	token, _, err := st.CreateToken("bench", []string{"admin"}, nil)
	if err != nil {
		return err
	}
	b := &bench{c: c, url: hs.URL, token: token}
	fmt.Printf("forEach of %d items, maxConcurrency 100, through the API on an embedded Temporal server (history budget %d events)\n\n", items, 10000)
	for _, k := range []struct{ name, body string }{{"log", logBody}, {"shell", shellBody}} {
		if err := b.loop(ctx, k.name, fmt.Sprintf(src, "loop-"+k.name, items, k.body), items); err != nil {
			return fmt.Errorf("%s: %w", k.name, err)
		}
	}
	fmt.Printf("\npeak RSS of the process (server, worker, API): %s\n", peakRSS())
	return nil
}

type bench struct {
	c     client.Client
	url   string
	token string
}

func (b *bench) call(method, path string, body string, out any) (int, error) {
	req, err := http.NewRequest(method, b.url+path, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+b.token)
	if strings.HasPrefix(body, "{") {
		req.Header.Set("Content-Type", "application/json")
	} else if body != "" {
		req.Header.Set("Content-Type", "application/yaml")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.StatusCode, err
		}
	}
	return resp.StatusCode, nil
}

type view struct {
	ID         string `json:"id"`
	Status     string `json:"status"`
	Error      string `json:"error"`
	StepsTotal int    `json:"stepsTotal"`
	Handovers  int    `json:"handovers"`
}

func (b *bench) loop(ctx context.Context, name, runbook string, items int) error {
	if code, err := b.call("POST", "/api/v1/runbooks", runbook, nil); err != nil || code != 201 {
		return fmt.Errorf("register: %d %v", code, err)
	}
	var v view
	start := time.Now()
	if code, err := b.call("POST", "/api/v1/runbooks/loop-"+name+"/runs", "{}", &v); err != nil || code != 201 {
		return fmt.Errorf("start: %d %v", code, err)
	}
	var during []time.Duration
	for v.Status == "" || v.Status == "running" {
		time.Sleep(500 * time.Millisecond)
		t := time.Now()
		if _, err := b.call("GET", "/api/v1/runs/"+v.ID, "", &v); err != nil {
			return err
		}
		during = append(during, time.Since(t))
	}
	took := time.Since(start)
	if v.Status != "succeeded" {
		return fmt.Errorf("run %s: %s %s", v.ID, v.Status, v.Error)
	}
	var after []time.Duration
	for range 20 {
		t := time.Now()
		if _, err := b.call("GET", "/api/v1/runs/"+v.ID, "", &v); err != nil {
			return err
		}
		after = append(after, time.Since(t))
	}
	lengths, err := b.executions(ctx, v.ID)
	if err != nil {
		return err
	}
	sum, most := 0, 0
	for _, n := range lengths {
		sum += n
		most = max(most, n)
	}
	fmt.Printf("%-6s %7.1fs  %7.0f items/s  %d executions (%d hand-overs), history %d events in all, %d per execution on average, at most %d; timeline %d entries\n",
		name, took.Seconds(), float64(items)/took.Seconds(), len(lengths), v.Handovers, sum, sum/len(lengths), most, v.StepsTotal)
	fmt.Printf("       GET /api/v1/runs/:id while running: p50 %s, max %s (%d reads); after: p50 %s, max %s (20 reads)\n",
		pct(during, 50), pct(during, 100), len(during), pct(after, 50), pct(after, 100))
	return nil
}

// executions lists the history lengths of a run's executions, first to last.
func (b *bench) executions(ctx context.Context, id string) ([]int, error) {
	var out []int
	d, err := b.c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return nil, err
	}
	for exec := d.WorkflowExecutionInfo.Execution.RunId; exec != ""; {
		it := b.c.GetWorkflowHistory(ctx, id, exec, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		n, prev := 0, ""
		for it.HasNext() {
			e, err := it.Next()
			if err != nil {
				return nil, err
			}
			if n == 0 {
				prev = e.GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId()
			}
			n++
		}
		out = append([]int{n}, out...)
		exec = prev
	}
	return out, nil
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s) - 1) * p / 100
	return s[i].Round(100 * time.Microsecond)
}

// peakRSS reads VmHWM from /proc/self/status.
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
