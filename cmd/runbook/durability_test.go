package main

import (
	"path/filepath"
	"testing"
	"time"
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
	dev := startDevProc(t, t.TempDir(), "--worker=false")
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
	got := awaitRun(t, dev.api, op, r.ID, 90*time.Second, func(r runAnswer) bool { return r.step("gate") == "waiting-approval" })
	mustCall(t, 200, dev.api, dev.tokens["RUNBOOK_APPROVER1_TOKEN"], "POST", "/api/v1/runs/"+r.ID+"/approvals/gate", map[string]any{"decision": "approve"}, nil)
	got = awaitRun(t, dev.api, op, r.ID, time.Minute, func(r runAnswer) bool { return r.Status != "running" })
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
	dev := startDevProc(t, state)
	admin, op := dev.tokens["RUNBOOK_ADMIN_TOKEN"], dev.tokens["RUNBOOK_OPERATOR_TOKEN"]
	mustCall(t, 201, dev.api, admin, "POST", "/api/v1/runbooks", killable, nil)
	dir := t.TempDir()
	var r runAnswer
	mustCall(t, 201, dev.api, op, "POST", "/api/v1/runbooks/killable/runs", map[string]any{"params": map[string]any{"marks": dir}}, &r)

	awaitFile(t, filepath.Join(dir, "slow-start"))
	dev.kill()
	dev = startDevProc(t, state)
	awaitRun(t, dev.api, op, r.ID, 90*time.Second, func(r runAnswer) bool { return r.step("gate") == "waiting-approval" })
	dev.kill()
	dev = startDevProc(t, state)
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
	mustCall(t, 200, dev.api, dev.tokens["RUNBOOK_APPROVER2_TOKEN"], "POST", "/api/v1/runs/"+r.ID+"/approvals/gate", map[string]any{"decision": "approve"}, nil)
	got := awaitRun(t, dev.api, op, r.ID, time.Minute, func(r runAnswer) bool { return r.Status != "running" })
	if got.Status != "succeeded" {
		t.Fatalf("run %s: %+v", got.Status, got)
	}
	for name, want := range map[string]int{"before": 1, "slow-start": 2, "slow-done": 1, "after": 1} {
		if n := marks(t, dir, name); n != want {
			t.Errorf("%s happened %d times, want %d", name, n, want)
		}
	}
}
