package main

import (
	"bytes"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/opsrunbook/runbook/devserver/devtest"
)

// killable appends a line to $MARKS/<name> for every side effect, so the
// test can count how often each step really ran.
const killable = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: killable}
spec:
  params: [{name: marks, type: string, required: true}]
  steps:
    - id: before
      action: shell
      with: {script: 'echo x >> "$M/before"', env: {M: "${{ params.marks }}"}}
    - id: slow
      action: shell
      timeout: 2m
      with:
        script: 'echo x >> "$M/slow-start"; sleep 3; echo x >> "$M/slow-done"'
        env: {M: "${{ params.marks }}"}
    - id: gate
      approval: {approvers: ["group:change-board"], timeout: 1h}
    - id: after
      action: shell
      with: {script: 'echo x >> "$M/after"', env: {M: "${{ params.marks }}"}}
`

// A worker killed with -9 in the middle of a shell step: another worker
// retries that step once its heartbeat times out, and no step that had
// completed runs again.
func TestWorkerKilledMidStep(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dev := startDevProc(t, t.TempDir(), nil, "--worker=false")
	admin, op := dev.tokens["RUNBOOK_ADMIN_TOKEN"], dev.tokens["RUNBOOK_OPERATOR_TOKEN"]
	mustCall(t, 201, dev.api, admin, "POST", "/api/v1/runbooks", killable, nil)
	dir := t.TempDir()
	w1 := startProc(t, nil, "worker", "--temporal", dev.temporal)
	w1.await("worker on task queue")
	var r runAnswer
	mustCall(t, 201, dev.api, op, "POST", "/api/v1/runbooks/killable/runs", map[string]any{"params": map[string]any{"marks": dir}}, &r)

	awaitFile(t, filepath.Join(dir, "slow-start"))
	w1.kill()
	time.Sleep(4 * time.Second) // the killed step's script would have finished by now
	w2 := startProc(t, nil, "worker", "--temporal", dev.temporal)
	w2.await("worker on task queue")
	awaitRun(t, dev.api, op, r.ID, 90*time.Second, func(r runAnswer) bool { return r.step("gate") == "waiting-approval" })
	approveAndCount(t, dev, r.ID, "RUNBOOK_APPROVER1_TOKEN", dir)
	recordHistory(t, dev.temporal, r.ID)
}

// approveAndCount gives the gate its vote, waits for the run to succeed,
// and checks that only the killed step ran twice.
func approveAndCount(t *testing.T, dev *devProc, run, approver, dir string) {
	t.Helper()
	mustCall(t, 200, dev.api, dev.tokens[approver], "POST", "/api/v1/runs/"+run+"/approvals/gate", map[string]any{"decision": "approve"}, nil)
	got := awaitRun(t, dev.api, dev.tokens["RUNBOOK_OPERATOR_TOKEN"], run, time.Minute, func(r runAnswer) bool { return r.Status != "running" })
	if got.Status != "succeeded" {
		t.Fatalf("run %s: %+v", got.Status, got)
	}
	for name, want := range map[string]int{"before": 1, "slow-start": 2, "slow-done": 1, "after": 1} {
		if n := marks(t, dir, name); n != want {
			t.Errorf("%s happened %d times, want %d", name, n, want)
		}
	}
}

// runbook dev killed with -9 twice, mid-step and while an approval waits,
// and started again on the same directory: the run resumes, the approval
// is still pending and can be given, and the run completes.
func TestDevKilledMidRunResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	state := t.TempDir()
	dev := startDevProc(t, state, nil)
	admin, op := dev.tokens["RUNBOOK_ADMIN_TOKEN"], dev.tokens["RUNBOOK_OPERATOR_TOKEN"]
	mustCall(t, 201, dev.api, admin, "POST", "/api/v1/runbooks", killable, nil)
	dir := t.TempDir()
	var r runAnswer
	mustCall(t, 201, dev.api, op, "POST", "/api/v1/runbooks/killable/runs", map[string]any{"params": map[string]any{"marks": dir}}, &r)

	awaitFile(t, filepath.Join(dir, "slow-start"))
	dev.kill()
	dev = startDevProc(t, state, nil)
	awaitRun(t, dev.api, op, r.ID, 90*time.Second, func(r runAnswer) bool { return r.step("gate") == "waiting-approval" })
	dev.kill()
	dev = startDevProc(t, state, nil)
	if dev.tokens["RUNBOOK_OPERATOR_TOKEN"] != op {
		t.Fatal("tokens changed across restarts")
	}
	var pending struct {
		Approvals []struct {
			Run  string `json:"run"`
			Step string `json:"step"`
		} `json:"approvals"`
	}
	// The list asks the run itself (a query), which answers once the new
	// worker polls.
	for deadline := time.Now().Add(time.Minute); len(pending.Approvals) == 0 && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		mustCall(t, 200, dev.api, op, "GET", "/api/v1/approvals", nil, &pending)
	}
	if a := pending.Approvals; len(a) != 1 || a[0].Run != r.ID || a[0].Step != "gate" {
		t.Fatalf("pending approvals after the restart: %+v", pending)
	}
	approveAndCount(t, dev, r.ID, "RUNBOOK_APPROVER2_TOKEN", dir)
}

// The API process killed after it recorded a run and before it answered
// (Temporal is stopped with SIGSTOP so the start hangs in between): the
// client's retry with the same Idempotency-Key, on a new API process,
// gets that run, and it runs once.
func TestAPIKilledBetweenTriggerAndAnswer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dev := startDevProc(t, t.TempDir(), nil)
	db := filepath.Join(t.TempDir(), "api.db")
	var tok bytes.Buffer
	if code := run([]string{"token", "create", "--db", db, "--user", "ci", "--roles", "admin"}, &tok, &tok); code != 0 {
		t.Fatalf("token create: %s", tok.String())
	}
	admin := strings.TrimSpace(tok.String())
	startAPI := func() (*proc, string) {
		p := startProc(t, nil, "server", "--listen", "127.0.0.1:0", "--db", db, "--temporal", dev.temporal)
		return p, p.await(`API on (http://[0-9.:]+)`)[1]
	}
	api, base := startAPI()
	mustCall(t, 201, base, admin, "POST", "/api/v1/runbooks", killable, nil)
	dir := t.TempDir()
	start := map[string]any{"params": map[string]any{"marks": dir}}
	const key = "deploy-4711"

	if err := dev.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	defer func() {
		if stopped {
			dev.cmd.Process.Signal(syscall.SIGCONT)
		}
	}()
	answered := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("POST", base+"/api/v1/runbooks/killable/runs", strings.NewReader(`{"params": {"marks": "`+dir+`"}}`))
		req.Header.Set("Authorization", "Bearer "+admin)
		req.Header.Set("Idempotency-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	var listed struct {
		Runs []runAnswer `json:"runs"`
	}
	for deadline := time.Now().Add(30 * time.Second); len(listed.Runs) == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the run was never recorded")
		}
		mustCall(t, 200, base, admin, "GET", "/api/v1/runs?runbook=killable", nil, &listed)
	}
	api.kill()
	if code := <-answered; code != 0 {
		t.Fatalf("the first request was answered (%d) before the kill", code)
	}
	dev.cmd.Process.Signal(syscall.SIGCONT)
	stopped = false

	_, base = startAPI()
	var again runAnswer
	if code := call(t, base, admin, "POST", "/api/v1/runbooks/killable/runs", start, &again, "Idempotency-Key", key); code != 200 || again.ID != listed.Runs[0].ID {
		t.Fatalf("retry: %d %+v, recorded %s", code, again, listed.Runs[0].ID)
	}
	awaitRun(t, base, admin, again.ID, time.Minute, func(r runAnswer) bool { return r.step("gate") == "waiting-approval" })
	mustCall(t, 200, base, admin, "GET", "/api/v1/runs?runbook=killable", nil, &listed)
	if len(listed.Runs) != 1 || marks(t, dir, "before") != 1 || marks(t, dir, "slow-done") != 1 {
		t.Errorf("runs %+v; before ran %d times", listed.Runs, marks(t, dir, "before"))
	}
}

// A schedule keeps firing once per tick across a kill -9 of runbook dev:
// no tick starts two runs, and the restart fires nothing extra.
func TestScheduleFiresOncePerTickAcrossRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	state, dir := t.TempDir(), t.TempDir()
	dev := startDevProc(t, state, nil)
	ticker := `apiVersion: runbook/v1
kind: Runbook
metadata: {name: ticker}
spec:
  schedules: [{name: often, cron: "@every 2s", overlap: allow-all}]
  steps:
    - {id: tick, action: shell, with: {script: 'echo "$RUN" >> ` + dir + `/ticks', env: {RUN: "${{ run.id }}"}}}
`
	mustCall(t, 201, dev.api, dev.tokens["RUNBOOK_ADMIN_TOKEN"], "POST", "/api/v1/runbooks", ticker, nil)
	awaitTicks := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); marks(t, dir, "ticks") < n; time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d ticks, want %d", marks(t, dir, "ticks"), n)
			}
		}
	}
	awaitTicks(2)
	dev.kill()
	time.Sleep(3 * time.Second)
	dev = startDevProc(t, state, nil)
	before := marks(t, dir, "ticks")
	awaitTicks(before + 3)
	mustCall(t, 202, dev.api, dev.tokens["RUNBOOK_ADMIN_TOKEN"], "POST", "/api/v1/runbooks/ticker/schedules/often/pause", nil, nil)
	time.Sleep(time.Second) // a tick in flight lands

	b, _ := os.ReadFile(filepath.Join(dir, "ticks"))
	ids := strings.Fields(string(b))
	var times []time.Time
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Errorf("run %s ran twice", id)
		}
		seen[id] = true
		// A scheduled run's id starts with its fire time's milliseconds.
		at, err := runIDTime(strings.TrimPrefix(id, "ticker-"))
		if err != nil {
			t.Fatalf("run id %s: %v", id, err)
		}
		times = append(times, at)
	}
	slices.SortFunc(times, time.Time.Compare)
	for i := 1; i < len(times); i++ {
		if d := times[i].Sub(times[i-1]); d < 2*time.Second {
			t.Errorf("ticks %s and %s are %s apart", times[i-1], times[i], d)
		}
	}
	t.Logf("%d runs: %v", len(ids), ids)
}

// runIDTime is the time in a run id's 26-character suffix: its first 48
// bits are milliseconds since the epoch.
func runIDTime(suffix string) (time.Time, error) {
	b, err := base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding).DecodeString(suffix)
	if err != nil || len(b) != 16 {
		return time.Time{}, fmt.Errorf("not a run id suffix: %q", suffix)
	}
	return time.UnixMilli(int64(binary.BigEndian.Uint64(b[:8]) >> 16)), nil
}

// recordHistory saves a finished run's history for the replay test when
// RECORD_HISTORIES is set: a run that lived through a lost worker takes a
// path (a heartbeat timeout, the retry-lost-worker marker) the examples'
// runs do not.
func recordHistory(t *testing.T, hostPort, id string) {
	t.Helper()
	if os.Getenv("RECORD_HISTORIES") == "" {
		return
	}
	c, err := client.Dial(client.Options{HostPort: hostPort})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	devtest.RecordHistory(t, filepath.Join("..", "..", "workflows", "testdata", "histories", t.Name()+"-killable"), devtest.HistoryJSON(t, c, id), id)
}
