package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/opsrunbook/runbook/cluster"
)

// mixed has what the production topology must carry through lost
// processes: a two-vote approval, a forEach, and a compensation that
// undoes the deploy when verify fails. Every shell step logs its start
// and end with the run, the step and the worker's pid ($PPID), so the
// test can tell which side effects happened twice, and on which worker.
const mixed = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: mixed}
spec:
  params:
    - {name: marks, type: string, required: true}
    - {name: items, type: list, required: true}
    - {name: fail, type: bool, default: false}
  steps:
    - id: before
      action: shell
      with:
        script: 'echo "start $RUN before $PPID" >> "$M/log"; sleep 1; echo "done $RUN before $PPID" >> "$M/log"'
        env: {M: "${{ params.marks }}", RUN: "${{ run.id }}"}
    - id: gate
      approval: {approvers: ["group:board"], minApprovals: 2, timeout: 1h}
    - id: each
      forEach: params.items
      as: item
      steps:
        - id: touch
          action: shell
          with:
            script: 'echo "start $RUN touch-$ITEM $PPID" >> "$M/log"; sleep 0.3; echo "done $RUN touch-$ITEM $PPID" >> "$M/log"'
            env: {M: "${{ params.marks }}", RUN: "${{ run.id }}", ITEM: "${{ item }}"}
    - id: deploy
      action: shell
      with:
        script: 'echo "start $RUN deploy $PPID" >> "$M/log"; sleep 0.3; echo "done $RUN deploy $PPID" >> "$M/log"'
        env: {M: "${{ params.marks }}", RUN: "${{ run.id }}"}
      compensate:
        steps:
          - id: undo
            action: shell
            with:
              script: 'echo "start $RUN undo $PPID" >> "$M/log"; echo "done $RUN undo $PPID" >> "$M/log"'
              env: {M: "${{ params.marks }}", RUN: "${{ run.id }}"}
    - id: verify
      action: shell
      with:
        script: 'echo "start $RUN verify $PPID" >> "$M/log"; echo "done $RUN verify $PPID" >> "$M/log"; [ "$FAIL" != true ]'
        env: {M: "${{ params.marks }}", RUN: "${{ run.id }}", FAIL: "${{ string(params.fail) }}"}
`

// clusterRuns is how many runs the load starts: 200 take about 80s on
// two cores; RUNBOOK_CLUSTER_RUNS sets another number.
func clusterRuns(t *testing.T) int {
	if s := os.Getenv("RUNBOOK_CLUSTER_RUNS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 4 {
			t.Fatalf("RUNBOOK_CLUSTER_RUNS=%q: want a number >= 4", s)
		}
		return n
	}
	return 200
}

// The production topology, run for real: the Temporal server built from
// the pinned module on Postgres, two workers and two API processes behind
// a round-robin. A mixed load goes through it while one worker and one
// API process are killed with -9 (and started again, as compose's
// restart policy would); then every run has ended once, with the outcome
// its params ask for, no side effect happened twice but on the killed
// worker, every vote counted once, and every record says what Temporal
// says.
func TestProductionTopology(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal cluster")
	}
	pg := envOr("RUNBOOK_CLUSTER_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
	var log syncBuffer
	c, err := cluster.Start(context.Background(), cluster.Options{
		Runbook: []string{os.Args[0]}, RunbookEnv: []string{"RUNBOOK_TEST_MAIN=1"},
		Postgres: pg, Dir: t.TempDir(), Listen: "127.0.0.1:0", MaxActions: 20,
		Log: &log, Logf: t.Logf,
	})
	switch {
	case errors.Is(err, cluster.ErrNoPostgres):
		t.Skipf("the cluster needs PostgreSQL (RUNBOOK_CLUSTER_POSTGRES): %v", err)
	case err != nil && strings.Contains(err.Error(), "build go.temporal.io/server/cmd/"):
		t.Skipf("the Temporal server could not be built: %v", err)
	case err != nil:
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	defer func() {
		if t.Failed() {
			t.Logf("processes' output:\n%s", lastBytes(log.String(), 200_000))
		}
	}()
	mustCall(t, 201, c.API, c.Tokens["admin"], "POST", "/api/v1/runbooks", mixed, nil)

	n, marksDir := clusterRuns(t), t.TempDir()
	l := &clusterLoad{t: t, c: c, marks: marksDir, runs: make([]string, n)}
	start := time.Now()
	var wg sync.WaitGroup
	next := make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				l.drive(i)
			}
		}()
	}
	killed := make(chan []int)
	go func() { killed <- l.chaos(int64(n / 3)) }()
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	killedPids := <-killed
	t.Logf("%d runs in %s; killed worker pid %v and an API process; %d requests retried", n, time.Since(start).Round(time.Second), killedPids, l.retries.Load())
	if t.Failed() {
		return
	}
	l.check(killedPids)
}

type clusterLoad struct {
	t       *testing.T
	c       *cluster.Cluster
	marks   string
	mu      sync.Mutex
	runs    []string // by index
	retries atomic.Int64
	// started and ended count runs, for the kills to land mid-load.
	started, ended atomic.Int64
}

// fails says whether run i is one whose verify step fails.
func fails(i int) bool { return i%4 == 3 }

// drive starts run i, gives its gate two votes and waits for its end.
func (l *clusterLoad) drive(i int) {
	t, c := l.t, l.c
	var r runAnswer
	params := map[string]any{"marks": l.marks, "items": []string{"a", "b", "c"}, "fail": fails(i)}
	if err := l.send("POST", "/api/v1/runbooks/mixed/runs", c.Tokens["oscar"], map[string]any{"params": params}, &r, 201, fmt.Sprintf("load-%d", i)); err != nil {
		t.Errorf("run %d: %v", i, err)
		return
	}
	l.mu.Lock()
	l.runs[i] = r.ID
	l.mu.Unlock()
	l.started.Add(1)
	defer l.ended.Add(1)
	if err := l.until(r.ID, 3*time.Minute, func(r runAnswer) bool { return r.step("gate") == "waiting-approval" }); err != nil {
		t.Errorf("run %s: %v", r.ID, err)
		return
	}
	for _, who := range []string{"ann", "bob"} {
		if err := l.send("POST", "/api/v1/runs/"+r.ID+"/approvals/gate", c.Tokens[who], map[string]any{"decision": "approve"}, nil, 200, ""); err != nil {
			t.Errorf("run %s: %s's vote: %v", r.ID, who, err)
			return
		}
	}
	if err := l.until(r.ID, 3*time.Minute, func(r runAnswer) bool { return r.Status != "running" }); err != nil {
		t.Errorf("run %s: %v", r.ID, err)
	}
}

// chaos kills worker 1 and API process 1 once after runs have started,
// and starts them again 10s later, as compose's restart policy would. It
// returns the killed worker's pid.
func (l *clusterLoad) chaos(after int64) []int {
	for l.started.Load() < after {
		time.Sleep(100 * time.Millisecond)
	}
	w, api := l.c.Workers[0], l.c.Servers[0]
	pid := w.Pid()
	w.Kill()
	api.Kill()
	l.t.Logf("killed -9 worker-1 (pid %d) and api-1 with %d runs started, %d of them running", pid, l.started.Load(), l.started.Load()-l.ended.Load())
	time.Sleep(10 * time.Second)
	if err := l.c.RestartWorker(0); err != nil {
		l.t.Error(err)
	}
	if err := l.c.RestartServer(0); err != nil {
		l.t.Error(err)
	}
	return []int{pid}
}

// send makes one API call through the round-robin, and makes it again
// while the answer is a 502 (the process behind it is dead) or the
// connection broke: with the same Idempotency-Key for a start, and the
// same vote, which the API counts once.
func (l *clusterLoad) send(method, path, token string, body, out any, want int, key string) error {
	b, _ := json.Marshal(body)
	var last string
	for attempt := 0; attempt < 40; attempt++ {
		if attempt > 0 {
			l.retries.Add(1)
			time.Sleep(500 * time.Millisecond)
		}
		req, _ := http.NewRequest(method, l.c.API+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			last = err.Error()
			continue
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusServiceUnavailable:
			last = fmt.Sprintf("%d %s", resp.StatusCode, raw)
			continue
		case resp.StatusCode == want || (key != "" && resp.StatusCode == 200): // 200: the retry found the run
			if out != nil {
				return json.Unmarshal(raw, out)
			}
			return nil
		default:
			return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
	}
	return fmt.Errorf("%s %s: still failing: %s", method, path, last)
}

// until polls a run, through the round-robin, until cond holds.
func (l *clusterLoad) until(id string, timeout time.Duration, cond func(runAnswer) bool) error {
	var r runAnswer
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(time.Second) {
		r = runAnswer{}
		if err := l.send("GET", "/api/v1/runs/"+id, l.c.Tokens["oscar"], nil, &r, 200, ""); err != nil {
			return err
		}
		if cond(r) {
			return nil
		}
	}
	return fmt.Errorf("condition not met in %s: %+v", timeout, r)
}

// check compares what happened with what should have.
func (l *clusterLoad) check(killedPids []int) {
	t, c := l.t, l.c
	admin := c.Tokens["admin"]

	// Every run once, in the records and in Temporal.
	var listed struct {
		Runs []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"runs"`
	}
	mustCall(t, 200, c.API, admin, "GET", "/api/v1/runs?runbook=mixed&limit=500", nil, &listed)
	records := map[string]string{}
	for _, r := range listed.Runs {
		records[r.ID] = r.Status
	}
	if len(listed.Runs) != len(l.runs) || len(records) != len(l.runs) {
		t.Errorf("%d run records (%d distinct), want %d", len(listed.Runs), len(records), len(l.runs))
	}
	tc, err := client.Dial(client.Options{HostPort: c.Temporal, Namespace: cluster.Namespace})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	// No workflow in Temporal without its record: a start retried after
	// the API died made none of its own. (Visibility lags a little.)
	var inTemporal int
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Second) {
		inTemporal = 0
		var token []byte
		for {
			page, err := tc.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Namespace: cluster.Namespace, PageSize: 1000, NextPageToken: token})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page.Executions {
				if strings.HasPrefix(e.Execution.WorkflowId, "mixed-") {
					inTemporal++
				}
			}
			if token = page.NextPageToken; len(token) == 0 {
				break
			}
		}
		if inTemporal == len(l.runs) || time.Now().After(deadline) {
			break
		}
	}
	if inTemporal != len(l.runs) {
		t.Errorf("Temporal has %d runs of mixed, want %d", inTemporal, len(l.runs))
	}
	temporalStatus := map[enumspb.WorkflowExecutionStatus]string{
		enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED: "succeeded",
		enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:    "failed",
	}
	for i, id := range l.runs {
		want := "succeeded"
		if fails(i) {
			want = "failed"
		}
		if records[id] != want {
			t.Errorf("run %d (%s): record says %q, want %q", i, id, records[id], want)
		}
		d, err := tc.DescribeWorkflowExecution(context.Background(), id, "")
		if err != nil {
			t.Errorf("run %s: Temporal: %v", id, err)
			continue
		}
		if got := temporalStatus[d.WorkflowExecutionInfo.Status]; got != records[id] {
			t.Errorf("run %s: record says %q, Temporal %s", id, records[id], d.WorkflowExecutionInfo.Status)
		}
		// Every vote once.
		var report struct {
			Approvals []struct {
				Step  string            `json:"step"`
				Votes []json.RawMessage `json:"votes"`
			} `json:"approvals"`
		}
		mustCall(t, 200, c.API, admin, "GET", "/api/v1/runs/"+id+"/report", nil, &report)
		if len(report.Approvals) != 1 || len(report.Approvals[0].Votes) != 2 {
			t.Errorf("run %s: approvals %+v, want gate with 2 votes", id, report.Approvals)
		}
	}

	// Every side effect once, but on the killed worker: a step it was
	// running when it died runs again on the other one.
	type key struct{ run, step string }
	type marks struct{ starts, dones, killedStarts, killedDones int }
	seen := map[key]*marks{}
	killed := map[string]bool{}
	for _, p := range killedPids {
		killed[strconv.Itoa(p)] = true
	}
	onKilled := 0
	f, err := os.Open(filepath.Join(l.marks, "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for sc := bufio.NewScanner(f); sc.Scan(); {
		fs := strings.Fields(sc.Text())
		if len(fs) != 4 {
			t.Fatalf("marks line %q", sc.Text())
		}
		k := key{fs[1], fs[2]}
		m := seen[k]
		if m == nil {
			m = &marks{}
			seen[k] = m
		}
		isKilled := killed[fs[3]]
		switch fs[0] {
		case "start":
			m.starts++
			if isKilled {
				m.killedStarts++
				onKilled++
			}
		case "done":
			m.dones++
			if isKilled {
				m.killedDones++
			}
		}
	}
	again := 0
	for i, id := range l.runs {
		steps := []string{"before", "touch-a", "touch-b", "touch-c", "deploy", "verify"}
		if fails(i) {
			steps = append(steps, "undo")
		}
		for _, s := range steps {
			m := seen[key{id, s}]
			switch {
			case m == nil || m.dones == 0:
				t.Errorf("run %s: %s never completed: %+v", id, s, m)
			case m.dones-m.killedDones > 1 || m.starts-1 > m.killedStarts:
				t.Errorf("run %s: %s ran %d times (%d started on the killed worker), completed %d times", id, s, m.starts, m.killedStarts, m.dones)
			case m.starts > 1:
				again++
			}
			delete(seen, key{id, s})
		}
	}
	for k, m := range seen {
		t.Errorf("run %s: %s ran and should not have: %+v", k.run, k.step, m)
	}
	t.Logf("%d steps ran again after the worker running them was killed", again)
	// The kills must have hit the load, or the test tests nothing.
	if onKilled == 0 || l.retries.Load() == 0 {
		t.Errorf("%d steps ran on the killed worker, %d requests were retried: the kills missed the load", onKilled, l.retries.Load())
	}
}

func lastBytes(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
