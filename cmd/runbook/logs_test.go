package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// runbook logs against runbook dev, whose worker keeps the lines in the
// dev records: every line of a failed 10,000-line step, in order, with
// times and the secret masked; -f from the middle of the step.
func TestLogsCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("starts runbook dev")
	}
	const secret = "cli-secret-58e1d0"
	t.Setenv("RUNBOOK_SECRET_CLI_TOKEN", secret)
	stop, _, addr, tokens := startDev(t, t.TempDir())
	defer stop()
	gate := filepath.Join(t.TempDir(), "gate")
	file := filepath.Join(t.TempDir(), "noisy.yaml")
	if err := os.WriteFile(file, []byte(`apiVersion: runbook/v1
kind: Runbook
metadata: {name: clinoisy}
spec:
  secrets: [CLI_TOKEN]
  params: [{name: gate, type: string, required: true}]
  steps:
    - {id: hello, action: log, with: {message: starting}}
    - id: noisy
      action: shell
      with:
        env: {TOKEN: "${{ secrets.CLI_TOKEN }}", GATE: "${{ params.gate }}"}
        script: |
          i=1
          while [ $i -le 10000 ]; do
            echo "out $i token=$TOKEN"
            if [ $i -eq 5000 ]; then
              n=0
              while [ ! -e "$GATE" ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n+1)); done
            fi
            i=$((i+1))
          done
          echo "ERROR: deadlock detected" >&2
          exit 3
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cli := func(args ...string) (int, string, string) {
		var o, e bytes.Buffer
		code := run(append(args, "--addr", addr, "--token", tokens["RUNBOOK_ADMIN_TOKEN"]), &o, &e)
		return code, o.String(), e.String()
	}
	if code, o, e := cli("apply", file); code != 0 {
		t.Fatalf("apply: %d %s %s", code, o, e)
	}
	code, o, e := cli("run", "clinoisy", "-p", "gate="+gate, "-q")
	if code != 0 {
		t.Fatalf("run: %d %s %s", code, o, e)
	}
	id := strings.TrimSpace(o)
	// Follow from the middle of the step: it waits at the gate after
	// line 5000.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, o, _ := cli("logs", id, "noisy", "--tail", "1")
		if strings.HasSuffix(o, "noisy stdout: out 5000 token=***\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("line 5000 never came: %q", o)
		}
	}
	type result struct {
		code     int
		out, err string
	}
	followed := make(chan result, 1)
	go func() {
		code, o, e := cli("logs", id, "-f", "--since", "5001")
		followed <- result{code, o, e}
	}()
	time.Sleep(500 * time.Millisecond)
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var f result
	select {
	case f = <-followed:
	case <-time.After(time.Minute):
		t.Fatal("logs -f did not end")
	}
	lines := strings.Split(strings.TrimSuffix(f.out, "\n"), "\n")
	if f.code != 1 || len(lines) != 5001 || !regexp.MustCompile(`^run \S+ ended: failed\n$`).MatchString(f.err) {
		t.Fatalf("logs -f: exit %d, %d lines, stderr %q", f.code, len(lines), f.err)
	}
	stamp := `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z `
	if !regexp.MustCompile(`^`+stamp+`noisy stdout: out 5001 token=\*\*\*$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^`+stamp+`noisy stderr: ERROR: deadlock detected$`).MatchString(lines[5000]) {
		t.Errorf("followed lines: %q ... %q", lines[0], lines[5000])
	}

	// Every line, in order.
	code, o, e = cli("logs", id)
	lines = strings.Split(strings.TrimSuffix(o, "\n"), "\n")
	if code != 0 || len(lines) != 10002 || e != "" || strings.Contains(o, secret) {
		t.Fatalf("logs: exit %d, %d lines, stderr %q", code, len(lines), e)
	}
	if !regexp.MustCompile(`^` + stamp + `hello log: starting$`).MatchString(lines[0]) {
		t.Errorf("first line %q", lines[0])
	}
	for i, l := range lines[1:10001] {
		if want := fmt.Sprintf(" noisy stdout: out %d token=***", i+1); !strings.HasSuffix(l, want) {
			t.Fatalf("line %d = %q, want ...%s", i+2, l, want)
		}
	}
	// The run's error carries more than the last line.
	_, o, _ = cli("logs", id, "noisy", "--tail", "2")
	if !strings.HasSuffix(o, "noisy stdout: out 10000 token=***\n"+lines[10001][:24]+" noisy stderr: ERROR: deadlock detected\n") {
		t.Errorf("tail 2: %q", o)
	}

	// Stray arguments and bad flags exit 2 with the usage.
	usage := "usage: runbook logs RUN [STEP|STEP[ITEM]] [-f] [--since SEQ] [--tail N]\n"
	for _, args := range [][]string{{"logs"}, {"logs", id, "noisy", "extra"}, {"logs", id, "--tail", "-1"}, {"logs", id, "--bogus"}} {
		if code, _, e := cli(args...); code != 2 || !strings.HasSuffix(e, usage) {
			t.Errorf("%v: exit %d, %q", args, code, e)
		}
	}
	if code, _, e := cli("logs", "no-such-run"); code != 1 || e != "runbook logs: no run no-such-run (HTTP 404)\n  GET /api/v1/runs lists the runs\n" {
		t.Errorf("unknown run: %d %q", code, e)
	}
}
