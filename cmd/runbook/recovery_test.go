package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// recoverable marks each side effect in $M/<step> and fails at check
// until $M/ready exists; check asks for a decision when ask is true.
func recoverable(name string, ask bool) string {
	policy := ""
	if ask {
		policy = "\n      onStepFailure: ask"
	}
	return `apiVersion: runbook/v1
kind: Runbook
metadata: {name: ` + name + `}
spec:
  params: [{name: marks, type: string, required: true}, {name: n, type: string, default: "0"}]
  steps:
    - id: prepare
      action: shell
      with: {script: 'echo "$N" >> "$M/prepare"; echo prepared-$N', env: {M: "${{ params.marks }}", N: "${{ params.n }}"}}
    - id: check
      action: shell
      with: {script: 'echo x >> "$M/check"; test -f "$M/ready"', env: {M: "${{ params.marks }}"}}` + policy + `
    - id: after
      action: log
      with: {message: "${{ steps.prepare.outputs.stdout }}"}
`
}

// cliAt runs the command line against a dev process with a token.
func cliAt(dev *devProc, token string, args ...string) (int, string) {
	var o bytes.Buffer
	code := run(append(args, "--addr", dev.api, "--token", token), &o, &o)
	return code, o.String()
}

// Through the command line: a failed run resumed from its failed step
// reuses what ran before (once fixed), show links both runs, and
// `rerun --failed` reruns the rest a few at a time, skipping those rerun
// already and stopping at the first new failure.
func TestRerunFromTheCommandLine(t *testing.T) {
	if testing.Short() {
		t.Skip("starts runbook dev")
	}
	dev := startDevProc(t, t.TempDir(), nil)
	op := dev.tokens["RUNBOOK_OPERATOR_TOKEN"]
	mustCall(t, 201, dev.api, dev.tokens["RUNBOOK_ADMIN_TOKEN"], "POST", "/api/v1/runbooks", recoverable("fragile", false), nil)
	dir := t.TempDir()
	start := func(n string) string {
		t.Helper()
		code, o := cliAt(dev, op, "run", "fragile", "-p", "marks="+dir, "-p", "n="+n, "-q")
		if code != 0 {
			t.Fatalf("run: %d %s", code, o)
		}
		id := strings.TrimSpace(o)
		if code, o := cliAt(dev, op, "follow", id); code != 1 {
			t.Fatalf("follow %s: %d %s", id, code, o)
		}
		return id
	}
	first := start("1")
	if code, o := cliAt(dev, op, "rerun"); code != 2 || !strings.Contains(o, "name exactly one run") {
		t.Errorf("rerun without a run: %d %s", code, o)
	}
	if code, o := cliAt(dev, op, "rerun", first, "--failed"); code != 2 || !strings.Contains(o, "--failed takes no run") {
		t.Errorf("rerun RUN --failed: %d %s", code, o)
	}
	if code, o := cliAt(dev, op, "rerun", first, "--from", "after"); code != 1 || !strings.Contains(o, "step after comes after check, where run "+first+" stopped (failed)") {
		t.Errorf("rerun from after the failure: %d %s", code, o)
	}

	if err := os.WriteFile(filepath.Join(dir, "ready"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	code, o := cliAt(dev, op, "rerun", first, "--from", "check", "--reason", "made it ready", "--follow")
	m := regexp.MustCompile(`^run (\S+) started, rerunning ` + first + "\n  reused: prepare\n").FindStringSubmatch(o)
	if code != 0 || m == nil {
		t.Fatalf("rerun --follow: %d\n%s", code, o)
	}
	second := m[1]
	if !strings.Contains(o, "run "+second+" succeeded") {
		t.Errorf("the follow did not end with the rerun's success:\n%s", o)
	}
	// A reused step says where its result is from, not the earlier run's times.
	if !regexp.MustCompile(`(?m)^\S*  prepare +reused \(from ` + first + `\)$`).MatchString(o) {
		t.Errorf("the reused step in the follow:\n%s", o)
	}
	if n := marks(t, dir, "prepare"); n != 1 {
		t.Errorf("prepare ran %d times, want once", n)
	}
	_, shown := cliAt(dev, op, "show", second)
	for _, re := range []string{
		`(?m)^Rerun of  ` + first + `, from check: "made it ready"$`,
		`(?m)^  prepare +reused +\d\d:\d\d:\d\dZ +\S+ +reused from ` + first + `$`,
		`(?m)^  after +succeeded `,
		`(?m)^      message = "prepared-1\\n"$`,
	} {
		if !regexp.MustCompile(re).MatchString(shown) {
			t.Errorf("show of the rerun lacks %s:\n%s", re, shown)
		}
	}
	if _, shown := cliAt(dev, op, "show", first); !strings.Contains(shown, "\nReruns    "+second+"\n") {
		t.Errorf("show of the first run lacks its rerun:\n%s", shown)
	}

	// Two more fail while ready is gone; --failed reruns those two (not
	// the first, rerun already), from check, and both succeed.
	os.Remove(filepath.Join(dir, "ready"))
	start("2")
	start("3")
	os.WriteFile(filepath.Join(dir, "ready"), nil, 0o600)
	code, o = cliAt(dev, op, "rerun", "--failed", "--runbook", "fragile", "--since", "1h", "--max-concurrency", "2")
	if code != 0 || !strings.HasPrefix(o, "2 failed runs of fragile to rerun\n") ||
		len(regexp.MustCompile(`(?m)^\[[12]/2\] fragile-\S+ -> fragile-\S+ succeeded$`).FindAllString(o, -1)) != 2 {
		t.Fatalf("rerun --failed: %d\n%s", code, o)
	}
	if n := marks(t, dir, "prepare"); n != 3 {
		t.Errorf("prepare ran %d times, want 3 (once per first run)", n)
	}

	// Three more fail; with the fault still there the first rerun fails
	// and no other starts.
	os.Remove(filepath.Join(dir, "ready"))
	for _, n := range []string{"4", "5", "6"} {
		start(n)
	}
	code, o = cliAt(dev, op, "rerun", "--failed", "--runbook", "fragile", "--since", "1h")
	if code != 1 || !strings.HasPrefix(o, "3 failed runs of fragile to rerun\n") ||
		!regexp.MustCompile(`\[1/3\] fragile-\S+ -> fragile-\S+ failed\nstopped after a failure: 1 of 3 rerun, 2 not started\n$`).MatchString(o) {
		t.Errorf("rerun --failed with the fault still there: %d\n%s", code, o)
	}
}

// A step that asks for a decision parks the run; the worker is killed
// with -9 while it waits, and another one takes over: the run still waits,
// `runbook approvals` lists it, a skip with outputs of the wrong type is
// refused, and `runbook decide ... retry` once the fault is gone finishes
// the run, with nothing before the step run twice.
func TestDecisionSurvivesAKilledWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dev := startDevProc(t, t.TempDir(), nil, "--worker=false")
	op := dev.tokens["RUNBOOK_OPERATOR_TOKEN"]
	mustCall(t, 201, dev.api, dev.tokens["RUNBOOK_ADMIN_TOKEN"], "POST", "/api/v1/runbooks", recoverable("asks", true), nil)
	w1 := startProc(t, nil, "worker", "--temporal", dev.temporal)
	w1.await("worker on task queue")
	dir := t.TempDir()
	var r runAnswer
	mustCall(t, 201, dev.api, op, "POST", "/api/v1/runbooks/asks/runs", map[string]any{"params": map[string]any{"marks": dir}}, &r)
	awaitRun(t, dev.api, op, r.ID, time.Minute, func(r runAnswer) bool { return r.Status == "waiting_decision" })

	w1.kill()
	w2 := startProc(t, nil, "worker", "--temporal", dev.temporal)
	w2.await("worker on task queue")
	// The list asks the run itself, which answers once the new worker
	// has it.
	listed := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(r.ID) + `\s+check\s+.*decision`)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		code, o := cliAt(dev, op, "approvals")
		if code == 0 && listed.MatchString(o) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("approvals after the kill: %d\n%s", code, o)
		}
	}
	if code, o := cliAt(dev, op, "decide", r.ID, "check", "later"); code != 2 || !strings.Contains(o, `"later" is not retry, skip or fail`) {
		t.Errorf("decide with an unknown action: %d %s", code, o)
	}
	if code, o := cliAt(dev, op, "decide", r.ID, "check", "skip", "--output", "exitCode=zero"); code != 1 ||
		!strings.Contains(o, "the decision does not fit step check: outputs.exitCode: expected an integer, got a string") {
		t.Errorf("skip with a wrong output: %d %s", code, o)
	}
	if err := os.WriteFile(filepath.Join(dir, "ready"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, o := cliAt(dev, op, "decide", r.ID, "check", "retry", "-m", "created it"); code != 0 || o != "check: retry, now running\n" {
		t.Fatalf("decide retry: %d %q", code, o)
	}
	got := awaitRun(t, dev.api, op, r.ID, time.Minute, func(r runAnswer) bool { return r.Status != "running" && r.Status != "waiting_decision" })
	if got.Status != "succeeded" {
		t.Fatalf("after the retry: %+v", got)
	}
	for name, want := range map[string]int{"prepare": 1, "check": 2} {
		if n := marks(t, dir, name); n != want {
			t.Errorf("%s ran %d times, want %d", name, n, want)
		}
	}
	_, shown := cliAt(dev, op, "show", r.ID)
	if !regexp.MustCompile(`(?m)^Decisions\n  check: succeeded, deciders any operator\n    dev-operator  retry  \d\d:\d\d:\d\dZ  "created it"$`).MatchString(shown) {
		t.Errorf("show lacks the decision:\n%s", shown)
	}
	recordHistory(t, dev.temporal, r.ID)
}
