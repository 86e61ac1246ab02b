package runbooks_test

import (
	"strings"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/runbooks"
)

func TestPreview(t *testing.T) {
	src := `apiVersion: runbook/v1
kind: Runbook
metadata: {name: pv}
spec:
  params:
    - {name: env, type: string, default: staging}
    - {name: hosts, type: list, items: string, default: [a, b]}
    - {name: tag, type: string}
  secrets: [TOKEN]
  schedules:
    - {name: nightly, cron: "0 2 * * *", timezone: Europe/Berlin}
  steps:
    - {id: check, action: shell, with: {command: [check, "${{ params.env }}"]}}
    - {id: prod_gate, if: "params.env == 'production'", approval: {approvers: [ann]}}
    - {id: fix, if: "steps.check.outputs.exitCode != 0", action: log, with: {message: "fixing ${{ steps.check.outputs.stdout }}"}}
    - id: each
      forEach: params.hosts
      steps:
        - {id: ping, action: tcp.check, with: {host: "${{ item }}", port: 22}}
    - id: off
      if: "false"
      steps:
        - {id: inner, action: notify, with: {url: "${{ secrets.TOKEN }}", text: hi}}
`
	p := mustBuild(t, src)
	// 02:00 on 29 March 2026 does not exist in Berlin (clocks go to 03:00), so it
	// is skipped.
	now := time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC)
	pv, err := runbooks.PreviewPlan(p, map[string]any{}, now, "ann")
	if err != nil {
		t.Fatal(err)
	}
	got := pv.String()
	want := `Runbook pv

Params:
  env = "staging" (default)
  hosts = ["a","b"] (default)
  tag (not given; optional without a default, so has(params.tag) is false)

Steps:
  RUN   check: action shell
          command: ["check","staging"]
  SKIP  prod_gate: approval by 1 of ann  [if params.env == 'production' is false]
  LATER fix: action log  [if steps.check.outputs.exitCode != 0 depends on steps.check]
          message: (at run time, from steps.check)
  RUN   each: forEach item in params.hosts  [once per item (2): ["a","b"]]
    RUN   ping: action tcp.check
            host: (at run time)
            port: 22
  SKIP  off: group of 1 steps  [if false is false]
    SKIP  inner: action notify  [inside skipped off]

Schedules:
  nightly: "0 2 * * *" in Europe/Berlin, next: 2026-03-30 02:00 CEST; 2026-03-31 02:00 CEST; 2026-04-01 02:00 CEST;
`
	if got != want {
		t.Errorf("preview:\n%s\nwant:\n%s", got, want)
	}
	pv, err = runbooks.PreviewPlan(p, map[string]any{"env": "production"}, now, "ann")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(pv.String(), "RUN   prod_gate: approval by 1 of ann  [if params.env == 'production' is true]") {
		t.Errorf("production preview:\n%s", pv)
	}
	if _, err := runbooks.PreviewPlan(p, map[string]any{"env": 3}, now, "ann"); err == nil {
		t.Error("a bad param was accepted")
	}
}

func TestPreviewStopsAtExitAndFailingAssert(t *testing.T) {
	src := `apiVersion: runbook/v1
kind: Runbook
metadata: {name: pv}
spec:
  params: [{name: n, type: int, default: 1}]
  vars: {twice: "params.n * 2"}
  steps:
    - {id: check, assert: {that: "vars.twice < 10", message: "too many: ${{ vars.twice }}"}}
    - {id: quiet, if: "vars.twice == 2", exit: {message: nothing to do}}
    - {id: work, sleep: 1s}
  finally:
    - {id: bye, sleep: 1s}
`
	p := mustBuild(t, src)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		n    int64
		want []string
	}{
		{1, []string{"twice = 2 (params.n * 2)", "RUN   check: assert vars.twice < 10  [holds]", "RUN   quiet: exit: end the run successfully  [if vars.twice == 2 is true]", "SKIP  work: sleep 1s  [the run ends at exit quiet]", "RUN   bye: sleep 1s"}},
		{3, []string{"SKIP  quiet: exit: end the run successfully  [if vars.twice == 2 is false]", "RUN   work: sleep 1s"}},
		{7, []string{`RUN   check: assert vars.twice < 10  [FAILS: "too many: 14"]`, "SKIP  work: sleep 1s  [the run fails at assert check]", "RUN   bye: sleep 1s"}},
	} {
		pv, err := runbooks.PreviewPlan(p, map[string]any{"n": tt.n}, now, "ann")
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range tt.want {
			if !strings.Contains(pv.String(), w) {
				t.Errorf("n=%d: preview lacks %q:\n%s", tt.n, w, pv)
			}
		}
	}
}

// TestPreviewRun: what is left of a started run renders with the outputs
// of the steps that ended, and the vars its set steps gave.
func TestPreviewRun(t *testing.T) {
	src := `apiVersion: runbook/v1
kind: Runbook
metadata: {name: pv}
spec:
  params:
    - {name: env, type: string, default: staging}
    - {name: region, type: string, default: eu, fixed: true}
  steps:
    - {id: check, action: shell, with: {command: [check, "${{ params.env }}"]}}
    - {id: bump, set: {tries: "steps.check.outputs.exitCode - 2"}}
    - {id: board, approval: {approvers: [ann, bob]}}
    - {id: fix, if: "steps.check.outputs.exitCode != 0", action: log, with: {message: "fixing ${{ steps.check.outputs.stdout }} after ${{ string(vars.tries) }} by ${{ run.startedBy }}"}}
    - {id: after, action: log, with: {message: "${{ steps.fix.status }}"}}
`
	p := mustBuild(t, src)
	now := time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC)
	pv, err := runbooks.PreviewRun(p, runbooks.RunState{
		Run:    plan.RunVars{ID: "pv-1", Name: "pv", Version: 1, Trigger: plan.RunTriggerAPI, TriggeredBy: "cy", StartedBy: "cy", StartedAt: now},
		Params: map[string]any{"env": "production", "region": "eu"}, // a run records its fixed params too
		Ended: map[string]runbooks.StepResult{
			"check": {Status: "succeeded", Outputs: map[string]any{"exitCode": int64(3), "stdout": "disk full", "stderr": ""}},
			"bump":  {Status: "succeeded"},
		},
	}, now)
	if err != nil {
		t.Fatal(err)
	}
	got := pv.String()
	want := `Runbook pv

Params:
  env = "production" (the run's)
  region = "eu" (the run's)

Steps:
  DONE  check: action shell  [succeeded]
  DONE  bump: set vars.tries  [succeeded]
  RUN   board: approval by 1 of ann, bob
  RUN   fix: action log  [if steps.check.outputs.exitCode != 0 is true]
          message: "fixing disk full after 1 by cy"
  RUN   after: action log
          message: (at run time, from steps.fix)
`
	if got != want {
		t.Errorf("preview:\n%s\nwant:\n%s", got, want)
	}
}
