package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/web"
)

// syncBuffer is a bytes.Buffer safe for the dev server's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startDev runs `runbook dev` in-process on free ports until the test ends.
func startDev(t *testing.T, dir string) (stop func(), out *syncBuffer, addr string, tokens map[string]string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out = &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- devMain(ctx, []string{"--dir", dir, "--listen", "127.0.0.1:0", "--temporal-port", "0", "--examples", "../../examples"}, out, out)
	}()
	apiRe := regexp.MustCompile(`API\s+(http://[0-9.:]+)/api/v1`)
	for i := 0; ; i++ {
		if m := apiRe.FindStringSubmatch(out.String()); m != nil && strings.Contains(out.String(), "Try it:") {
			addr = m[1]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("runbook dev stopped: %v\n%s", err, out)
		default:
		}
		if i > 1200 {
			t.Fatalf("runbook dev did not come up:\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	tokens = map[string]string{}
	for _, m := range regexp.MustCompile(`(RUNBOOK_\w+_TOKEN)=(\S+)`).FindAllStringSubmatch(out.String(), -1) {
		tokens[m[1]] = m[2]
	}
	return func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("runbook dev: %v", err)
			}
		case <-time.After(time.Minute):
			t.Error("runbook dev did not stop")
		}
	}, out, addr, tokens
}

func TestDevEndToEndThroughTheCommandLine(t *testing.T) {
	if testing.Short() {
		t.Skip("starts runbook dev")
	}
	dir := t.TempDir()
	stop, out, addr, tokens := startDev(t, dir)
	if !strings.Contains(out.String(), "registered change-release v1") || len(tokens) != 4 {
		t.Fatalf("dev output:\n%s", out)
	}
	examplesAreInert(t, out.String(), addr, tokens)
	consoleIsServed(t, out.String(), addr)
	file := filepath.Join(t.TempDir(), "gate.yaml")
	if err := os.WriteFile(file, []byte(`apiVersion: runbook/v1
kind: Runbook
metadata: {name: gate}
spec:
  params: [{name: what, type: string, default: release}, {name: n, type: int, default: 1}]
  steps:
    - {id: board, approval: {message: "ship ${{ params.what }}?", approvers: ["group:change-board"], minApprovals: 2}}
    - {id: ship, action: shell, with: {command: [echo, "${{ params.what }}"]}}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cli := func(token string, args ...string) (int, string) {
		var o bytes.Buffer
		code := run(append(args, "--addr", addr, "--token", token), &o, &o)
		return code, o.String()
	}
	if code, o := cli(tokens["RUNBOOK_ADMIN_TOKEN"], "apply", file); code != 0 || !strings.Contains(o, "gate v1 registered") {
		t.Fatalf("apply: %d %s", code, o)
	}
	type result struct {
		code int
		out  string
	}
	followed := make(chan result, 1)
	go func() {
		code, o := cli(tokens["RUNBOOK_OPERATOR_TOKEN"], "run", "gate", "-p", "what=v2", "--follow")
		followed <- result{code, o}
	}()
	var runID string
	for i := 0; runID == "" && i < 200; i++ {
		_, o := cli(tokens["RUNBOOK_ADMIN_TOKEN"], "runs", "--runbook", "gate")
		if m := regexp.MustCompile(`(gate-[0-9a-z]+)\s+gate\s+running`).FindStringSubmatch(o); m != nil {
			runID = m[1]
		}
		time.Sleep(100 * time.Millisecond)
	}
	if runID == "" {
		t.Fatal("the run never showed up in runbook runs")
	}
	time.Sleep(time.Second) // let the approval start waiting
	// Each waiting approval carries the link to its page in the console.
	if code, o := cli(tokens["RUNBOOK_APPROVER1_TOKEN"], "approvals", "--mine"); code != 0 ||
		!regexp.MustCompile(`(?m)^RUN\s+STEP\s+VOTES\s+APPROVERS\s+MESSAGE\s+LINK$`).MatchString(o) ||
		!regexp.MustCompile(`(?m)^`+runID+`\s+board\s+0 of 2\s+group:change-board\s+ship v2\?\s+`+regexp.QuoteMeta(addr+"/runs/"+runID+"/approvals/board")+`$`).MatchString(o) {
		t.Errorf("approvals: %d\n%s", code, o)
	}
	t.Setenv("RUNBOOK_PUBLIC_URL", "https://runbooks.example.com/")
	if _, o := cli(tokens["RUNBOOK_APPROVER1_TOKEN"], "approvals"); !strings.Contains(o, " https://runbooks.example.com/runs/"+runID+"/approvals/board\n") {
		t.Errorf("approvals with RUNBOOK_PUBLIC_URL:\n%s", o)
	}
	if code, o := cli(tokens["RUNBOOK_OPERATOR_TOKEN"], "approve", runID, "board"); code != 1 ||
		o != "runbook approve: this needs the approver role (HTTP 403)\n" {
		t.Errorf("operator approving: %d %s", code, o)
	}
	for _, k := range []string{"RUNBOOK_APPROVER1_TOKEN", "RUNBOOK_APPROVER2_TOKEN"} {
		if code, o := cli(tokens[k], "approve", runID, "board", "-m", "ok"); code != 0 {
			t.Errorf("%s approving: %d %s", k, code, o)
		}
	}
	select {
	case r := <-followed:
		if r.code != 0 || !strings.Contains(r.out, "board") || !strings.Contains(r.out, "run "+runID+" succeeded") {
			t.Errorf("run --follow: %d\n%s", r.code, r.out)
		}
	case <-time.After(time.Minute):
		t.Fatal("run --follow did not end")
	}
	// Errors read as sentences, not Go values.
	if code, o := cli(tokens["RUNBOOK_APPROVER1_TOKEN"], "approve", runID, "board", "--reject"); code != 1 ||
		o != "runbook approve: run "+runID+" has already ended: succeeded (HTTP 409)\n" {
		t.Errorf("approving an ended run: %d %q", code, o)
	}
	if code, o := cli(tokens["RUNBOOK_OPERATOR_TOKEN"], "run", "gate", "-p", "n=abc"); code != 1 || o != `runbook run: param "n": "abc" is not an integer`+"\n" {
		t.Errorf("an int param given text: %d %q", code, o)
	}
	if code, o := cli(tokens["RUNBOOK_OPERATOR_TOKEN"], "cancel", runID, "--reason", "too late"); code != 1 ||
		o != "runbook cancel: run "+runID+" has already ended: succeeded\n" {
		t.Errorf("cancelling an ended run: %d %q", code, o)
	}
	stop()

	// A restart on the same directory keeps the records and the tokens.
	stop, out, _, again := startDev(t, dir)
	defer stop()
	if strings.Contains(out.String(), "registered change-release") || again["RUNBOOK_ADMIN_TOKEN"] != tokens["RUNBOOK_ADMIN_TOKEN"] {
		t.Errorf("restart re-registered or changed tokens:\n%s", out)
	}
}

// examplesAreInert: runbook dev registers examples/ without their alert
// triggers and schedules unless --live-examples asks for them, and says so.
func examplesAreInert(t *testing.T, out, addr string, tokens map[string]string) {
	t.Helper()
	if !strings.Contains(out, "registered without their triggers and schedules (--live-examples keeps them)") {
		t.Errorf("the banner does not say the examples are inert:\n%s", out)
	}
	admin := tokens["RUNBOOK_ADMIN_TOKEN"]
	var schedules struct {
		Schedules []any `json:"schedules"`
	}
	call(t, addr, admin, "GET", "/api/v1/schedules", nil, &schedules)
	if len(schedules.Schedules) != 0 {
		t.Errorf("the examples' schedules are live: %v", schedules.Schedules)
	}
	alert := map[string]any{"status": "firing", "alerts": []any{map[string]any{"status": "firing", "fingerprint": "newcomer",
		"startsAt": "2026-12-01T09:00:00Z", "labels": map[string]any{"alertname": "ServiceDown", "service": "api"}}}}
	var res struct {
		Runs []any `json:"runs"`
	}
	if got := call(t, addr, tokens["RUNBOOK_OPERATOR_TOKEN"], "POST", "/hooks/alertmanager", alert, &res); got != 200 || len(res.Runs) != 0 {
		t.Errorf("a test alert started an example: %d %v", got, res.Runs)
	}
}

// consoleIsServed: runbook dev serves the web console at /, next to the
// API's routes.
func consoleIsServed(t *testing.T, out, addr string) {
	t.Helper()
	if !strings.Contains(out, "  Console   "+addr+"/   (sign in with a token below)") {
		t.Errorf("dev output does not name the console:\n%s", out)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=%2F" {
		t.Errorf("GET /: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, err = noRedirect.Get(addr + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Security-Policy") != web.CSP {
		t.Errorf("GET /login: %d, CSP %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
}
