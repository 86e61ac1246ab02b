package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/workflows"
)

func at(s string) *time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &t
}

// The layout of show, exactly: the run, its steps as they ran (never-run
// ones as the server says), the votes, the handlers in the order they
// ran, the outputs.
func TestShowLayout(t *testing.T) {
	one := 1
	r := &shownRun{ID: "release-20261202-abc", Runbook: "release", Version: 3, VersionHash: "9f86d081884c7d65",
		Status: "failed", Error: "canary_health: the check did not pass within 2m\nsee the step", ErrorType: "RepeatTimeout", FailedStep: "canary_health",
		Trigger: "api", TriggeredBy: "ann", StartedBy: "ann",
		Params:    map[string]any{"version": "v1.2.3", "environment": "production", "replicas": 3},
		CreatedAt: *at("2026-12-02T03:00:00Z"), EndedAt: at("2026-12-02T03:02:31Z"),
		Steps: []shownStep{
			{ID: "board", Kind: "approval", Status: "succeeded", StartedAt: at("2026-12-02T03:00:00Z"), EndedAt: at("2026-12-02T03:00:40Z"),
				Message: "Release v1.2.3?", Approvers: []string{"group:change-board"}, MinApprovals: 2,
				Votes: []workflows.Vote{{User: "bob", Decision: plan.VoteApprove, Comment: "after the freeze", At: *at("2026-12-02T03:00:20Z")},
					{User: "cid", Decision: plan.VoteApprove, At: *at("2026-12-02T03:00:40Z"), Inputs: map[string]any{"ticket": "CHG-1"}}}},
			{ID: "deploy", Kind: "action", Status: "compensated", Attempts: 2, StartedAt: at("2026-12-02T03:00:40Z"), EndedAt: at("2026-12-02T03:00:41.5Z"),
				Outputs: map[string]any{"stdout": "deployed <api>\n"}},
			{ID: "hosts", Kind: "action", Item: &one, Status: "succeeded", Attempts: 1, StartedAt: at("2026-12-02T03:00:42Z"), EndedAt: at("2026-12-02T03:00:42.012Z")},
			{ID: "canary_health", Kind: "action", Status: "failed", Attempts: 1, StartedAt: at("2026-12-02T03:00:42Z"), EndedAt: at("2026-12-02T03:02:42Z"),
				Error: "the check did not pass within 2m\nlast 2 lines of output:\nok\nstill not\n", ErrorType: "RepeatTimeout"},
			{ID: "promote", Kind: "action", Status: "not-reached"},
			{ID: "record", Kind: "action", Phase: "finally", Status: "succeeded", StartedAt: at("2026-12-02T03:02:50Z"), EndedAt: at("2026-12-02T03:02:51Z")},
			{ID: "undo_deploy", Kind: "action", Phase: "compensate", Compensates: "deploy", Status: "succeeded", StartedAt: at("2026-12-02T03:02:43Z"), EndedAt: at("2026-12-02T03:02:44Z")},
			{ID: "tell", Kind: "action", Phase: "onFailure", Status: "failed", StartedAt: at("2026-12-02T03:02:45Z"), EndedAt: at("2026-12-02T03:02:46Z"), Error: "HTTP 500"},
		},
		Outputs: map[string]any{"latency_ms": 12},
	}
	logs := map[string][]tailLine{"canary_health": {{At: *at("2026-12-02T03:02:41Z"), Stream: "stderr", Text: "ERROR: deadlock detected"}}}
	var b bytes.Buffer
	printRun(&b, r, nil, logs)
	want := `Run       release-20261202-abc
Runbook   release v3, sha256 9f86d081884c7d65
Status    failed
Error     canary_health: the check did not pass within 2m
          see the step (RepeatTimeout)
Failed at canary_health
Trigger   api: ann
Starter   ann
Started   2026-12-02 03:00:00Z
Ended     2026-12-02 03:02:31Z, after 2m31s
Params    environment = "production"
          replicas = 3
          version = "v1.2.3"

Steps
  board          succeeded        03:00:00Z  40s
  deploy         compensated      03:00:40Z  1.5s      2 attempts
      stdout = "deployed <api>\n"
  hosts[1]       succeeded        03:00:42Z  12ms
  canary_health  failed           03:00:42Z  2m
      error (RepeatTimeout): the check did not pass within 2m
        last 2 lines of output:
        ok
        still not
      last 1 log lines:
        03:02:41Z stderr ERROR: deadlock detected
  promote        not-reached      -

Approvals
  board: succeeded, 2 of group:change-board: "Release v1.2.3?"
    bob   approve  03:00:20Z  "after the freeze"
    cid   approve  03:00:40Z  ticket="CHG-1"

Compensations, onFailure and finally, in the order they ran
  undo_deploy    succeeded        03:02:43Z  1s        compensate, undoes deploy
  tell           failed           03:02:45Z  1s        onFailure
      error: HTTP 500
  record         succeeded        03:02:50Z  1s        finally

Outputs
  latency_ms = 12
`
	if got := b.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// hookServer records the bodies posted to it.
type hookServer struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
}

func newHook(t *testing.T) *hookServer {
	h := &hookServer{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		_, _ = b.ReadFrom(r.Body)
		h.mu.Lock()
		h.bodies = append(h.bodies, b.String())
		h.mu.Unlock()
	}))
	t.Cleanup(h.Close)
	return h
}

// A production release whose canary never turns healthy, through the
// command line: two approvers with comments, the rollback, the failure
// notice and finally, shown by `runbook show` in the order they ran, and
// followed with the times they happened.
func TestShowChangeReleaseAfterRollback(t *testing.T) {
	if testing.Short() {
		t.Skip("starts runbook dev")
	}
	dir := t.TempDir()
	examples, _ := filepath.Abs("../../examples")
	if err := os.Symlink(examples, filepath.Join(dir, "examples")); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "services")
	deploy := exec.Command(filepath.Join(examples, "scripts", "deploy.sh"), "api", "v1.0.0", "canary")
	deploy.Env = append(os.Environ(), "SERVICE_STATE_DIR="+state)
	if out, err := deploy.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var fixed atomic.Bool // the canary of v9.9.9 turns healthy
	health := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fixed.Load() {
			fmt.Fprint(w, "ok v9.9.9")
			return
		}
		fmt.Fprint(w, "ok v1.0.0")
	}))
	defer health.Close()
	slack := newHook(t)
	dev := startProcIn(t, dir, []string{"SERVICE_STATE_DIR=" + state, "RUNBOOK_PASS_ENV=SERVICE_STATE_DIR", "RUNBOOK_SECRET_SLACK_URL=" + slack.URL},
		"dev", "--dir", ".runbook", "--listen", "127.0.0.1:0", "--temporal-port", "0", "--examples", "examples")
	dev.await("Try it:")
	addr := dev.await(`API\s+(http://[0-9.:]+)/api/v1`)[1]
	tokens := map[string]string{}
	for _, m := range regexp.MustCompile(`(RUNBOOK_\w+_TOKEN)=(\S+)`).FindAllStringSubmatch(dev.out.String(), -1) {
		tokens[m[1]] = m[2]
	}
	cli := func(token string, args ...string) (int, string) {
		var o bytes.Buffer
		code := run(append(args, "--addr", addr, "--token", token), &o, &o)
		return code, o.String()
	}
	op := tokens["RUNBOOK_OPERATOR_TOKEN"]
	code, o := cli(op, "run", "change-release", "-p", "service=api", "-p", "version=v9.9.9", "-p", "environment=production",
		"-p", "health_url="+health.URL, "-p", "canary_wait=4s", "-q")
	if code != 0 {
		t.Fatalf("run: %d %s", code, o)
	}
	id := strings.TrimSpace(o)
	if code, o := cli(tokens["RUNBOOK_APPROVER1_TOKEN"], "approve", id, "change_board", "--wait", "1m", "-m", "canary first"); code != 0 {
		t.Fatalf("approve: %d %s", code, o)
	}
	if code, o := cli(tokens["RUNBOOK_APPROVER2_TOKEN"], "approve", id, "change_board", "-m", "ok, watch the graphs"); code != 0 {
		t.Fatalf("approve: %d %s", code, o)
	}
	code, followed := cli(op, "follow", id)
	if code != 1 || !strings.Contains(followed, "run "+id+" failed") {
		t.Fatalf("follow: %d\n%s", code, followed)
	}
	// Every line is stamped in UTC with when it happened.
	for _, line := range strings.Split(strings.TrimSpace(followed), "\n") {
		if !regexp.MustCompile(`^(\d\d:\d\d:\d\dZ| {9})  \S`).MatchString(line) {
			t.Errorf("follow line without its time: %q", line)
		}
	}
	code, shown := cli(op, "show", id)
	if code != 0 {
		t.Fatalf("show: %d %s", code, shown)
	}
	t.Logf("follow:\n%s\nshow:\n%s", followed, shown)
	for _, re := range []string{
		`(?m)^Runbook   change-release v1, sha256 [0-9a-f]{64}$`,
		`(?m)^Status    failed$`,
		`(?m)^Trigger   api: dev-operator$`,
		`(?m)^Params    canary_wait = "4s"$`,
		`(?m)^          environment = "production"$`,
		`(?m)^  canary_health +failed +\d\d:\d\d:\d\dZ  \S+ .*\n      error \(RepeatTimeout\): `,
		`(?m)^  deploy_canary +compensated +\d\d:\d\d:\d\dZ`,
		`(?m)^  promote +not-reached +-$`,
		`(?m)^Failed at canary_health$`,
		`(?m)^  change_board: succeeded, 2 of group:change-board: "Release api v9.9.9 to production\?"\n` +
			`    dev-approver-1  approve  \d\d:\d\d:\d\dZ  "canary first"\n` +
			`    dev-approver-2  approve  \d\d:\d\d:\d\dZ  "ok, watch the graphs"\n`,
		`(?m)^Ended     2026-\d\d-\d\d \d\d:\d\d:\d\dZ, after \S+$`,
		`(?m)^  change_board +succeeded +\d\d:\d\d:\d\dZ +\S+\n      decision = "approved"\n  deploy_canary`,
		`(?m)^Outputs\n  none\n$`,
	} {
		if !regexp.MustCompile(re).MatchString(shown) {
			t.Errorf("show lacks %s:\n%s", re, shown)
		}
	}
	// A rejection: the comment is the run's error, and the vote is shown.
	code, o = cli(op, "run", "change-release", "-p", "service=api", "-p", "version=v9.9.8", "-p", "environment=production",
		"-p", "health_url="+health.URL, "-q")
	rejected := strings.TrimSpace(o)
	if code != 0 {
		t.Fatalf("run: %d %s", code, o)
	}
	if code, o := cli(tokens["RUNBOOK_APPROVER1_TOKEN"], "approve", rejected, "change_board", "--wait", "1m", "--reject", "-m", "freeze week"); code != 0 {
		t.Fatalf("reject: %d %s", code, o)
	}
	if code, o := cli(op, "follow", rejected); code != 1 {
		t.Fatalf("follow of the rejected run: %d %s", code, o)
	}
	code, o = cli(op, "show", rejected)
	for _, re := range []string{
		`(?m)^Status    failed$`,
		`(?m)^Error     approval "change_board" rejected by dev-approver-1: freeze week \(\w+\)$`,
		`(?m)^    dev-approver-1  reject   \d\d:\d\d:\d\dZ  "freeze week"$`,
		`(?m)^  deploy_canary +not-reached +-$`,
		`(?m)^  record +succeeded +\d\d:\d\d:\d\dZ +\S+ +finally$`,
	} {
		if code != 0 || !regexp.MustCompile(re).MatchString(o) {
			t.Errorf("show of the rejected run: exit %d, lacks %s:\n%s", code, re, o)
		}
	}

	// The rollback, then the notice, then finally: in the order they ran.
	_, handlers, ok := strings.Cut(shown, "Compensations, onFailure and finally, in the order they ran\n")
	var order []string
	for _, m := range regexp.MustCompile(`(?m)^  (\w+) +(\w+) +\d\d:\d\d:\d\dZ`).FindAllStringSubmatch(handlers, -1) {
		order = append(order, m[1]+" "+m[2])
	}
	if want := "rollback_canary succeeded, rolled_back_healthy succeeded, tell_failure succeeded, record succeeded"; !ok || strings.Join(order, ", ") != want {
		t.Errorf("handlers ran %v, want %s:\n%s", order, want, shown)
	}
	if !strings.Contains(handlers, "compensate, undoes deploy_canary") || !strings.Contains(handlers, "onFailure") || !strings.Contains(handlers, "finally") {
		t.Errorf("handlers without their sections:\n%s", handlers)
	}
	// Compensation lines of follow come after the failure that caused them.
	if f, c := strings.Index(followed, "canary_health            failed"), strings.Index(followed, "rollback_canary          succeeded"); f < 0 || c < f {
		t.Errorf("follow shows the rollback before the failure:\n%s", followed)
	}

	// Recovery (issue 16's own case): the operator puts v9.9.9 back on the
	// canary by hand and resumes from canary_health with the same version
	// and params: the two approvals carry over and deploy_canary's outputs
	// are reused (with a warning: the first run rolled it back); while the
	// canary is still bad, the rerun's failure compensates the reused
	// deploy_canary.
	redeploy := exec.Command(filepath.Join(examples, "scripts", "deploy.sh"), "api", "v9.9.9", "canary")
	redeploy.Env = append(os.Environ(), "SERVICE_STATE_DIR="+state)
	if out, err := redeploy.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	code, o = cli(op, "rerun", id, "--from", "canary_health", "--reason", "retry the canary", "--follow")
	if code != 1 || !strings.HasPrefix(o, "run ") || !strings.Contains(o, "\n  reused: announce, change_board, deploy_canary\n") || strings.Contains(o, "run again") ||
		!strings.Contains(o, "warning: step deploy_canary was compensated in run "+id+": its outputs are reused, what it did is not done again") {
		t.Fatalf("rerun while the canary is bad: %d\n%s", code, o)
	}
	bad := regexp.MustCompile(`^run (\S+) started`).FindStringSubmatch(o)[1]
	_, shown = cli(op, "show", bad)
	for _, re := range []string{
		`(?m)^Rerun of  ` + id + `, from canary_health: "retry the canary"$`,
		`(?m)^  change_board +reused +\d\d:\d\d:\d\dZ +\S+ +reused from ` + id + `$`,
		`(?m)^  deploy_canary +compensated +.*reused from ` + id + `$`,
		`(?m)^  rollback_canary +succeeded +\d\d:\d\d:\d\dZ +\S+ +compensate, undoes deploy_canary$`,
	} {
		if !regexp.MustCompile(re).MatchString(shown) {
			t.Errorf("show of the failed rerun lacks %s:\n%s", re, shown)
		}
	}
	// Fixed: the rerun promotes without asking anyone again.
	fixed.Store(true)
	code, o = cli(op, "rerun", id, "--from", "canary_health", "--follow")
	if code != 0 || !strings.Contains(o, "\n  reused: announce, change_board, deploy_canary\n") || !regexp.MustCompile(`(?m)promote +succeeded`).MatchString(o) {
		t.Fatalf("rerun once fixed: %d\n%s", code, o)
	}
	// With a param changed the approval is asked again.
	code, o = cli(op, "rerun", id, "--from", "canary_health", "-p", "canary_wait=5s")
	if code != 0 || !strings.Contains(o, "\n  run again: change_board\n") {
		t.Fatalf("rerun with -p: %d\n%s", code, o)
	}
	asked := regexp.MustCompile(`^run (\S+) started`).FindStringSubmatch(o)[1]
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		code, o := cli(tokens["RUNBOOK_APPROVER1_TOKEN"], "approvals")
		if code == 0 && regexp.MustCompile(`(?m)^`+asked+`\s+change_board\s`).MatchString(o) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rerun with -p does not wait for approval: %d\n%s", code, o)
		}
	}
	cli(op, "cancel", asked)
}

// show names a rerun's origin and a run's reruns, marks reused steps, and
// lists decisions: who decided what, and the step still waiting.
func TestShowRerunAndDecisions(t *testing.T) {
	r := &shownRun{ID: "release-20261202-new", Runbook: "release", Version: 3, Status: "waiting_decision",
		Trigger: "api", TriggeredBy: "ann", StartedBy: "ann",
		RerunOf: "release-20261202-old", RerunFrom: "check", RerunReason: "made it ready",
		Reruns:    []string{"release-20261202-newer"},
		CreatedAt: *at("2026-12-02T03:00:00Z"),
		Steps: []shownStep{
			{ID: "deploy", Kind: "action", Status: "reused", ReusedFrom: "release-20261202-old", StartedAt: at("2026-12-02T02:00:00Z"), EndedAt: at("2026-12-02T02:00:01Z"),
				Outputs: map[string]any{"stdout": "deployed\n"}},
			{ID: "check", Kind: "action", Status: "succeeded", Attempts: 2, StartedAt: at("2026-12-02T03:00:00Z"), EndedAt: at("2026-12-02T03:05:00Z"),
				Deciders: []string{"group:board"},
				Decisions: []workflows.Decision{{User: "bob", Action: plan.DecideRetry, Comment: "created it", At: *at("2026-12-02T03:04:00Z"),
					Inputs: map[string]any{"timeout": "5m"}}}},
			{ID: "hosts", Kind: "action", Item: new(2), Status: "waiting-decision", Attempts: 1, StartedAt: at("2026-12-02T03:05:00Z"),
				Error: "exit status 1", ErrorType: "ShellExitError"},
		},
	}
	var b bytes.Buffer
	printRun(&b, r, nil, nil)
	got := b.String()
	got = regexp.MustCompile(`running for [^)]*`).ReplaceAllString(got, "running for T")
	want := `Run       release-20261202-new
Runbook   release v3
Status    waiting_decision
Trigger   api: ann
Starter   ann
Started   2026-12-02 03:00:00Z
Ended     - (running for T)
Rerun of  release-20261202-old, from check: "made it ready"
Reruns    release-20261202-newer
Params    none

Steps
  deploy    reused           02:00:00Z  1s        reused from release-20261202-old
      stdout = "deployed\n"
  check     succeeded        03:00:00Z  5m        2 attempts
  hosts[2]  waiting-decision 03:05:00Z
      error (ShellExitError): exit status 1

Decisions
  check: succeeded, deciders group:board
    bob   retry  03:04:00Z  "created it"  inputs.timeout="5m"
  hosts[2]: waiting-decision, deciders any operator
    waiting: runbook decide release-20261202-new hosts[2] retry|skip|fail

Outputs
  none
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
