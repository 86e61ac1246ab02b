package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The README never lies: every command of its sh blocks runs, in order, in
// one bash session, against runbook dev started as `make dev` starts it
// (on free ports: the test puts the real address where the README says
// 127.0.0.1:8080). bin/runbook is this test binary acting as the command.
// Two lines are not run here: `make dev` is the process the test starts,
// and `make test` is what runs this test.
func TestREADMECommands(t *testing.T) {
	if testing.Short() {
		t.Skip("starts runbook dev")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	if len(blocks) < 4 {
		t.Fatalf("%d sh blocks in the README", len(blocks))
	}
	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	for _, b := range blocks {
		for _, line := range strings.SplitAfter(b[1], "\n") {
			if strings.HasPrefix(line, "make dev") || strings.HasPrefix(line, "make test") {
				line = "# " + line
			}
			script.WriteString(line)
		}
	}

	dir := t.TempDir()
	examples, _ := filepath.Abs("../../examples")
	if err := os.Symlink(examples, filepath.Join(dir, "examples")); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(dir, "bin"), 0o755)
	wrapper := "#!/bin/sh\nRUNBOOK_TEST_MAIN=1 exec '" + os.Args[0] + "' \"$@\"\n"
	if err := os.WriteFile(filepath.Join(dir, "bin", "runbook"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	dev := startProcIn(t, dir, nil, "dev", "--dir", ".runbook", "--listen", "127.0.0.1:0", "--temporal-port", "0", "--examples", "examples")
	dev.await("Try it:")
	addr := dev.await(`API\s+(http://[0-9.:]+)/api/v1`)[1]

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", strings.ReplaceAll(script.String(), "http://127.0.0.1:8080", addr))
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RUNBOOK_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's commands failed: %v\n%s", err, out)
	}
	for _, want := range []string{
		"1 of 1 runbooks valid",                // validate
		"sign_off",                             // plan
		"hello v1 registered",                  // apply
		"sign_off: pending (1 of 2 approvals)", // first approver
		"sign_off  1 of 2  group:change-board  greet sre again?", // approvals --mine
		"sign_off: approved (2 of 2 approvals)",                  // second approver
		"succeeded",                                              // run --follow
		"    dev-approver-1  approve  ", `  "fine by me"`,        // show: the votes
		"Runbook   hello v1, sha256 ",                                  // show: the version
		`"stdout":"hello sre\n"`,                                       // the run's record
		" greet stdout: hello sre\n", " again log: again: hello sre\n", // logs
		"Europe/Berlin",                                // schedules
		`"outcome":"started"`, `"outcome":"duplicate"`, // the alert, twice
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the output lacks %q:\n%s", want, out)
		}
	}
	if runs := regexp.MustCompile(`(?m)^hello-\S+\s+hello\s+(\w+)\s+v1\s+(\w+)`).FindAllStringSubmatch(string(out), -1); len(runs) != 2 {
		t.Errorf("runs of hello: %v\n%s", runs, out)
	}
}
