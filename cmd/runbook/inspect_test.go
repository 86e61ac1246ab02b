package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const inspV1 = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: insp, title: Inspect me}
spec:
  params: [{name: who, type: string, default: world}]
  schedules: [{name: nightly, cron: "0 2 * * *"}]
  steps:
    - id: size
      approval:
        approvers: ["group:change-board"]
        minApprovals: 1
        inputs: [{name: size_gb, type: int, required: true}, {name: note, type: string}]
    - {id: say, action: log, with: {message: "size ${{ steps.size.outputs.inputs.size_gb }}"}}
`

// The commands that look at runbooks, versions, schedules and runs,
// against runbook dev.
func TestInspectionCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("starts runbook dev")
	}
	stop, _, addr, tokens := startDev(t, t.TempDir())
	defer stop()
	admin, op, ap := tokens["RUNBOOK_ADMIN_TOKEN"], tokens["RUNBOOK_OPERATOR_TOKEN"], tokens["RUNBOOK_APPROVER1_TOKEN"]
	cli := func(token string, args ...string) (int, string) {
		var o bytes.Buffer
		code := run(append(args, "--addr", addr, "--token", token), &o, &o)
		return code, o.String()
	}
	dir := t.TempDir()
	v2 := strings.Replace(strings.Replace(inspV1, "default: world", "default: earth", 1), "    - {id: say,", "    - {id: pause, sleep: 1s}\n    - {id: say,", 1)
	for i, src := range []string{inspV1, v2} {
		file := filepath.Join(dir, "insp.yaml")
		if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		if code, o := cli(admin, "apply", file); code != 0 || !strings.HasSuffix(o, "registered\n") {
			t.Fatalf("apply v%d: %d %s", i+1, code, o)
		}
	}

	checks := []struct {
		token string
		args  []string
		code  int
		want  string // a regexp the whole output matches
	}{
		{op, []string{"runbooks"}, 0, `(?s)^NAME +LATEST +TITLE +AUTHOR +REGISTERED\n.*\ninsp +v2 +Inspect me +dev-admin +\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\n.*$`},
		{op, []string{"versions", "insp"}, 0, `^VERSION +HASH +TITLE +AUTHOR +REGISTERED\nv2 +[0-9a-f]{12} +Inspect me +dev-admin +\S+ \S+Z\nv1 +[0-9a-f]{12} .*\n$`},
		{op, []string{"versions", "nope"}, 1, `^runbook versions: no runbook nope \(HTTP 404\)\n$`},
		{op, []string{"diff", "insp"}, 0, `^insp v1 -> v2\n  \+ step pause added\n  ~ param who changed: default\n\n--- insp v1\n\+\+\+ insp v2\n@@ -2,7 \+2,7 @@\n` +
			regexp.QuoteMeta(` kind: Runbook
 metadata: {name: insp, title: Inspect me}
 spec:
-  params: [{name: who, type: string, default: world}]
+  params: [{name: who, type: string, default: earth}]
   schedules: [{name: nightly, cron: "0 2 * * *"}]
   steps:
     - id: size
@@ -10,4 +10,5 @@
         approvers: ["group:change-board"]
         minApprovals: 1
         inputs: [{name: size_gb, type: int, required: true}, {name: note, type: string}]
+    - {id: pause, sleep: 1s}
     - {id: say, action: log, with: {message: "size ${{ steps.size.outputs.inputs.size_gb }}"}}
`) + `$`},
		{op, []string{"diff", "insp", "v2", "1"}, 0, `^insp v2 -> v1\n  - step pause removed\n  ~ param who changed: default\n\n--- insp v2\n`},
		{op, []string{"diff", "insp", "1", "1"}, 0, `^insp v1 -> v1\nno changes\n$`},
		{op, []string{"diff", "insp", "3"}, 1, `^runbook diff: runbook insp has no version 3 \(the latest is v2\) \(HTTP 404\)\n$`},
		{op, []string{"diff", "insp", "latest"}, 2, `^runbook diff: "latest" is not a version number \(1, 2, ... or v1, v2, ...\)\nusage: runbook diff NAME \[V1\] \[V2\] \[--json\]\n$`},
		{op, []string{"schedules", "pause", "insp", "nightly"}, 0, `^schedule nightly of insp paused\n$`},
		{op, []string{"schedules"}, 0, `(?m)^insp +nightly +0 2 \* \* \* +UTC +true +\S+$`},
		{op, []string{"schedules", "unpause", "insp", "nightly"}, 0, `^schedule nightly of insp unpaused\n$`},
		{op, []string{"schedules", "list"}, 0, `(?m)^insp +nightly +0 2 \* \* \* +UTC +false +\S+$`},
		{op, []string{"schedules", "pause", "insp", "weekly"}, 1, `^runbook schedules: .*weekly.* \(HTTP 404\)\n$`},
		{op, []string{"follow", "insp-nope"}, 1, `^runbook follow: no run insp-nope \(HTTP 404\)\n$`},
		{op, []string{"runs", "--since", "yesterday"}, 2, `^runbook runs: --since: "yesterday" is neither an RFC 3339 time \(2026-12-01T09:00:00Z\) nor a duration ago \(24h, 7d\)\nusage: runbook runs `},
		{op, []string{"runs", "--until", "2000-01-01T00:00:00Z"}, 0, `^RUN +RUNBOOK +STATUS +VERSION +TRIGGER +BY +STARTED +DURATION +FAILED STEP +ERROR\n$`},
		{ap, []string{"approve", "x", "size", "--input", "size_gb"}, 2, `^runbook approve: --input "size_gb": want name=value\nusage: runbook approve `},
	}
	for _, c := range checks {
		if code, o := cli(c.token, c.args...); code != c.code || !regexp.MustCompile(c.want).MatchString(o) {
			t.Errorf("runbook %s: exit %d\n%s\nwant exit %d matching\n%s", strings.Join(c.args, " "), code, o, c.code, c.want)
		}
	}

	// A run fired by the schedule, approved with inputs, shown.
	code, o := cli(op, "schedules", "trigger", "insp", "nightly")
	m := regexp.MustCompile(`^schedule nightly of insp fired: run (insp-\S+) started\n$`).FindStringSubmatch(o)
	if code != 0 || m == nil {
		t.Fatalf("trigger: %d %s", code, o)
	}
	id := m[1]
	if code, o := cli(ap, "approve", id, "size", "--wait", "1m", "--input", "size_gb=42", "--input", "note=big one", "-m", "fine"); code != 0 || o != "size: approved (1 of 1 approvals)\n" {
		t.Fatalf("approve: %d %s", code, o)
	}
	if code, o := cli(op, "follow", id); code != 0 || !strings.HasSuffix(o, "run "+id+" succeeded\n") {
		t.Fatalf("follow: %d %s", code, o)
	}
	code, o = cli(op, "show", id)
	for _, re := range []string{
		`(?m)^Runbook   insp v2, sha256 [0-9a-f]{64}$`,
		`(?m)^Trigger   schedule: nightly$`,
		`(?m)^Starter   dev-operator$`,
		`(?m)^Params    who = "earth"$`,
		`(?m)^    dev-approver-1  approve  \d\d:\d\d:\d\dZ  "fine"  note="big one"  size_gb=42$`,
		`(?m)^  say +succeeded +\d\d:\d\d:\d\dZ +\S+\n      message = "size 42"$`,
	} {
		if code != 0 || !regexp.MustCompile(re).MatchString(o) {
			t.Errorf("show: exit %d, lacks %s:\n%s", code, re, o)
		}
	}
	code, o = cli(op, "show", id, "--json")
	var shown struct {
		ID    string `json:"id"`
		Steps []struct {
			ID string `json:"id"`
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(o), &shown); code != 0 || err != nil || shown.ID != id || len(shown.Steps) != 3 {
		t.Errorf("show --json: %d %v\n%s", code, err, o)
	}
	if code, o := cli(op, "show", "insp-nope"); code != 1 || o != "runbook show: no run insp-nope (HTTP 404)\n" {
		t.Errorf("show of no run: %d %q", code, o)
	}

	// runs: the columns, --limit, --json.
	if code, o := cli(op, "runs", "--runbook", "insp"); code != 0 ||
		!regexp.MustCompile(`\n`+regexp.QuoteMeta(id)+` +insp +succeeded +v2 +schedule +dev-operator +\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ +\S+ +- +-\n$`).MatchString(o) {
		t.Errorf("runs: %d\n%s", code, o)
	}
	var list struct {
		Runs []struct{ ID string } `json:"runs"`
	}
	if code, o := cli(op, "runs", "--since", "1h", "--limit", "1", "--json"); code != 0 || json.Unmarshal([]byte(o), &list) != nil || len(list.Runs) != 1 || list.Runs[0].ID != id {
		t.Errorf("runs --json --limit 1: %d\n%s", code, o)
	}
	if code, o := cli(op, "cancel", id, "--reason", "done already"); code != 1 || o != "runbook cancel: run "+id+" has already ended: succeeded\n" {
		t.Errorf("cancel of an ended run: %d %q", code, o)
	}

	// A failed shell step shows its last 10 log lines; follow keeps its
	// multi-line error under the step.
	failing := filepath.Join(dir, "failing.yaml")
	if err := os.WriteFile(failing, []byte("apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: failing}\nspec:\n  steps:\n"+
		"    - {id: migrate, action: shell, with: {script: \"for i in $(seq 1 12); do echo step $i/12; done; echo 'ERROR: deadlock detected' >&2; exit 3\"}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, o := cli(admin, "apply", failing); code != 0 {
		t.Fatalf("apply: %d %s", code, o)
	}
	code, o = cli(op, "run", "failing", "--follow")
	if code != 1 {
		t.Fatalf("run --follow: %d %s", code, o)
	}
	for _, line := range strings.Split(strings.TrimSpace(o), "\n")[1:] {
		if !regexp.MustCompile(`^(\d\d:\d\d:\d\dZ| {9})  \S`).MatchString(line) {
			t.Errorf("follow line out of place: %q", line)
		}
	}
	failed := strings.Fields(o)[1]
	code, o = cli(op, "show", failed)
	want := "      last 10 log lines:\n"
	for i := 4; i <= 12; i++ {
		want += fmt.Sprintf("        \\d\\d:\\d\\d:\\d\\dZ stdout step %d/12\n", i)
	}
	want += "        \\d\\d:\\d\\d:\\d\\dZ stderr ERROR: deadlock detected\n"
	if code != 0 || !regexp.MustCompile(`(?m)^  migrate +failed .*\n      error \(ShellExitError\): exit code 3`).MatchString(o) || !regexp.MustCompile(want).MatchString(o) {
		t.Errorf("show of a failed shell step: %d\n%s\nwant\n%s", code, o, want)
	}

	// Completion: the scripts parse, and __complete lists from the API.
	for _, sh := range []string{"bash", "zsh"} {
		code, script, _ := runCLI(t, "completion", sh)
		if code != 0 || !strings.Contains(script, "complete -o filenames -F _runbook runbook") {
			t.Errorf("completion %s: %d\n%s", sh, code, script)
		}
		if out, err := exec.Command("bash", "-n", "-c", strings.SplitN(script, "bashcompinit\n", 2)[len(strings.SplitN(script, "bashcompinit\n", 2))-1]).CombinedOutput(); err != nil {
			t.Errorf("completion %s does not parse: %v %s", sh, err, out)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"runbooks", "ins"}, "insp\n"},
		{[]string{"runs", "insp-"}, id + "\n"},
		{[]string{"steps", "s", id}, "size\nsay\n"},
		{[]string{"schedules", "", "insp"}, "nightly\n"},
	} {
		if code, o := cli(op, append([]string{"__complete"}, c.args...)...); code != 0 || o != c.want {
			t.Errorf("__complete %v: %d %q, want %q", c.args, code, o, c.want)
		}
	}
	if code, o, e := runCLI(t, "__complete", "runbooks", "ins", "--addr", "http://127.0.0.1:1"); code != 0 || o != "" || e != "" {
		t.Errorf("__complete without an API: %d %q %q", code, o, e)
	}
}
