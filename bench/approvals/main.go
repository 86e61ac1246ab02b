// Command approvals measures runs parked on approvals: N runs of a
// runbook whose first step is an approval (approvers: a group) wait on an
// embedded Temporal server, with the records syncer running as in
// `runbook serve`, and it prints
//
//   - the worker's memory: the worker runs as its own `runbook worker`
//     process against the embedded server (built from this module), and
//     its /proc/PID/status VmRSS (and VmHWM, the peak) is read once the
//     runs are parked;
//
//   - GET /api/v1/approvals?mine=true as an approver: latency p50/p99 over
//     -lists requests, and how many entries of the bench's runs it listed;
//
//   - vote to next step: for -votes runs, the time from sending the vote
//     that completes the quorum to the start of the step after the
//     approval (its startedAt in the run's timeline), p50 and p99, and the
//     vote's own answer time.
//
//     go run ./bench/approvals -runs 10000 [-lists 200] [-votes 50] [-db postgres://...]
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/opsrunbook/runbook/bench/benchenv"
	"github.com/opsrunbook/runbook/bench/benchrun"
	"github.com/opsrunbook/runbook/devserver"
	"github.com/opsrunbook/runbook/workflows"
)

func main() {
	runs := flag.Int("runs", 10000, "runs parked on the approval")
	lists := flag.Int("lists", 200, "GET /api/v1/approvals?mine=true requests timed")
	votes := flag.Int("votes", 50, "votes timed (each on its own run)")
	starters := flag.Int("starters", 32, "runs started at once")
	settle := flag.Duration("settle", 3*time.Minute, "how long to wait for the records to show every parked run waiting")
	db := flag.String("db", "", "the records: a postgres:// URL, or empty for a SQLite file")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the process (server, API) while it lists to this file")
	flag.Parse()
	if err := run(*runs, *lists, *votes, *starters, *settle, *db); err != nil {
		fmt.Fprintln(os.Stderr, "approvals bench:", err)
		os.Exit(1)
	}
}

const runbookDoc = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: %s}
spec:
  steps:
    - id: gate
      approval:
        message: "Go ahead with run ${{ run.id }}?"
        approvers: ["group:board"]
    - {id: next, action: log, with: {message: "approved"}}
`

var cpuProfile string

func run(n, lists, votes, starters int, settle time.Duration, dsn string) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir, err := os.MkdirTemp("", "runbook-bench-approvals-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	bin := filepath.Join(dir, "runbook")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/runbook").CombinedOutput(); err != nil {
		return fmt.Errorf("build the worker (run from the module's root): %v\n%s", err, out)
	}
	srv, err := devserver.Start(ctx, devserver.Config{Dynamic: benchenv.Dynamic})
	if err != nil {
		return err
	}
	defer srv.Stop()
	c, err := srv.Client()
	if err != nil {
		return err
	}
	defer c.Close()
	logf, err := os.Create(filepath.Join(dir, "worker.log"))
	if err != nil {
		return err
	}
	w := exec.Command(bin, "worker", "--temporal", srv.HostPort(), "--namespace", srv.Namespace())
	w.Stdout, w.Stderr = logf, logf
	if err := w.Start(); err != nil {
		return err
	}
	defer func() {
		_ = w.Process.Signal(os.Interrupt)
		_ = w.Wait()
	}()

	a, err := benchenv.StartAPI(c, dsn)
	if err != nil {
		return err
	}
	defer a.Stop()
	st, api, base, admin, records := a.Store, a.API, a.Base, a.Token, a.Records
	go api.Sync(ctx) // as runbook serve does
	ann, _, err := st.CreateToken("ann", []string{"approver", "viewer"}, []string{"board"})
	if err != nil {
		return err
	}
	httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: starters}}
	name := fmt.Sprintf("gate-%d", time.Now().UnixNano())
	if code, body, err := call(ctx, httpc, "POST", base+"/api/v1/runbooks", admin, fmt.Sprintf(runbookDoc, name)); err != nil || code != http.StatusCreated {
		return fmt.Errorf("register: %d %s %v", code, body, err)
	}
	fmt.Printf("%d runs parked on an approval (approvers: group:board), records in %s, worker as its own process, on an embedded Temporal server\n\n", n, records)

	// Park the runs.
	begin := time.Now()
	ids := make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, starters)
	for range starters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				code, body, err := call(ctx, httpc, "POST", base+"/api/v1/runbooks/"+name+"/runs", admin, "{}")
				if err != nil || code != http.StatusCreated {
					errs <- fmt.Errorf("start %d: %d %s %v", i, code, body, err)
					return
				}
				var out struct{ ID string }
				_ = json.Unmarshal(body, &out)
				ids[i] = out.ID
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	started := time.Since(begin)
	if err := parked(ctx, c, ids, starters); err != nil {
		return err
	}
	fmt.Printf("started %d runs in %.1fs, all parked (first workflow task done) after %.1fs\n", n, started.Seconds(), time.Since(begin).Seconds())

	// The records: how long until they show every run waiting.
	recBegin := time.Now()
	waiting := 0
	for deadline := time.Now().Add(settle); ; time.Sleep(500 * time.Millisecond) {
		if waiting, err = st.CountWaiting(name); err != nil {
			return err
		}
		if waiting >= n || time.Now().After(deadline) {
			break
		}
	}
	fmt.Printf("the records show %d of %d runs waiting at the approval, %.1fs after they parked\n", waiting, n, time.Since(recBegin).Seconds())

	rss, hwm, err := vmRSS(w.Process.Pid)
	if err != nil {
		return err
	}
	fmt.Printf("\nworker process RSS: %.0f MB (peak %.0f MB)\n", rss, hwm)

	// The inbox.
	stopProfile, err := benchrun.Profile(cpuProfile)
	if err != nil {
		return err
	}
	lat := make([]time.Duration, 0, lists)
	var listBody bytes.Buffer // one buffer for every answer: growing 1.7 MB each time is garbage the process's GC pays for
	listed := 0
	for range lists {
		t := time.Now()
		code, body, err := callInto(ctx, httpc, &listBody, "GET", base+"/api/v1/approvals?mine=true", ann, "")
		lat = append(lat, time.Since(t))
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("list: %d %.200s %v", code, body, err)
		}
		// Counted in the bytes, not decoded: decoding 10,000 entries
		// took a fifth of the machine's CPU, the API's share.
		listed = bytes.Count(body, []byte(`"runbook":"`+name+`"`))
	}
	stopProfile()
	slices.Sort(lat)
	fmt.Printf("GET /api/v1/approvals?mine=true (%d requests): p50 %.1fms p90 %.1fms p99 %.1fms max %.1fms, %d of the %d runs listed\n",
		lists, ms(pct(lat, 50)), ms(pct(lat, 90)), ms(pct(lat, 99)), ms(lat[len(lat)-1]), listed, n)

	// Votes, one at a time, on runs spread over all of them (most no
	// longer in the worker's cache: replayed at the vote).
	var toNext, answer []time.Duration
	for i := range min(votes, n) {
		id := ids[i*n/min(votes, n)]
		t := time.Now()
		code, body, err := call(ctx, httpc, "POST", base+"/api/v1/runs/"+id+"/approvals/gate", ann, `{"decision":"approve"}`)
		answer = append(answer, time.Since(t))
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("vote on %s: %d %s %v", id, code, body, err)
		}
		at, err := nextStarted(ctx, httpc, base, admin, id)
		if err != nil {
			return err
		}
		toNext = append(toNext, at.Sub(t))
	}
	slices.Sort(toNext)
	slices.Sort(answer)
	fmt.Printf("vote to next step start (%d votes): p50 %.1fms p99 %.1fms; the vote's answer p50 %.1fms p99 %.1fms\n",
		len(toNext), ms(pct(toNext, 50)), ms(pct(toNext, 99)), ms(pct(answer, 50)), ms(pct(answer, 99)))
	if rss, hwm, err = vmRSS(w.Process.Pid); err == nil {
		fmt.Printf("worker process RSS at the end: %.0f MB (peak %.0f MB)\n", rss, hwm)
	}
	return nil
}

// parked waits until every run's first workflow task is done (the run
// then waits at its approval): its history has a completed workflow task
// and none pending.
func parked(ctx context.Context, c client.Client, ids []string, par int) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	for range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(ids) {
					return
				}
				deadline := time.Now().Add(5 * time.Minute)
				for {
					d, err := c.DescribeWorkflowExecution(ctx, ids[i], "")
					if err == nil && d.WorkflowExecutionInfo.HistoryLength >= 4 && d.PendingWorkflowTask == nil {
						break
					}
					if time.Now().After(deadline) {
						failed.Store(fmt.Errorf("run %s never parked: %v", ids[i], err))
						return
					}
					time.Sleep(200 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		return err
	}
	return nil
}

// nextStarted polls a run's timeline until step next has started, and
// returns when it did.
func nextStarted(ctx context.Context, httpc *http.Client, base, token, id string) (time.Time, error) {
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		code, body, err := call(ctx, httpc, "GET", base+"/api/v1/runs/"+id, token, "")
		if err != nil || code != http.StatusOK {
			continue
		}
		var v struct{ Steps []workflows.StepState }
		if json.Unmarshal(body, &v) != nil {
			continue
		}
		for _, s := range v.Steps {
			if s.ID == "next" && s.StartedAt != nil {
				return *s.StartedAt, nil
			}
		}
	}
	return time.Time{}, errors.New("step next of " + id + " never started")
}

func call(ctx context.Context, c *http.Client, method, url, token, body string) (int, []byte, error) {
	var b bytes.Buffer
	return callInto(ctx, c, &b, method, url, token, body)
}

// callInto reads the answer into b, reset first.
func callInto(ctx context.Context, c *http.Client, b *bytes.Buffer, method, url, token, body string) (int, []byte, error) {
	req, _ := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b.Reset()
	_, err = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.Bytes(), err
}

// vmRSS reads a process's resident set and its peak, in MB.
func vmRSS(pid int) (rss, hwm float64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var kb float64
		if _, err := fmt.Sscanf(sc.Text(), "VmRSS: %f kB", &kb); err == nil {
			rss = kb / 1024
		}
		if _, err := fmt.Sscanf(sc.Text(), "VmHWM: %f kB", &kb); err == nil {
			hwm = kb / 1024
		}
	}
	return rss, hwm, sc.Err()
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := (len(d)*p + 99) / 100
	return d[max(0, min(len(d)-1, i-1))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
