package rerun_test

import (
	"strings"
	"testing"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/rerun"
	"github.com/opsrunbook/runbook/runbooks"
	"github.com/opsrunbook/runbook/workflows"
)

const src = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: t}
spec:
  steps:
    - id: gate
      approval: {approvers: [bob]}
    - id: a
      action: log
      with: {message: a}
    - id: b
      action: log
      with: {message: "${{ steps.a.status }}"}
    - id: c
      action: log
      with: {message: c}
  finally:
    - id: tidy
      action: log
      with: {message: tidy}
`

func entry(id, kind, status string) workflows.StepState {
	return workflows.StepState{ID: id, Kind: kind, Status: status}
}

func TestDecideRefuses(t *testing.T) {
	p, _, err := runbooks.Build("t.yaml", []byte(src), runbooks.Options{Actions: activities.Catalog()})
	if err != nil {
		t.Fatal(err)
	}
	old := []workflows.StepState{entry("gate", "approval", "succeeded"), entry("a", "action", "succeeded"),
		entry("b", "action", "failed"), entry("c", "action", "not-reached"), entry("tidy", "action", "succeeded")}
	for _, tc := range []struct {
		from, want string
	}{
		{"nope", "runbook t has no step nope"},
		{"tidy", "step tidy is not one of spec.steps (it is in onFailure, finally, an onError or a compensation): a rerun resumes from a step of spec.steps"},
		{"a[2]", "step a is not in a forEach, so it has no item 2"},
		{"c", "step c comes after b, where run r1 stopped (failed): resume from b or a step before it"},
	} {
		target, err := rerun.ParseTarget(tc.from)
		if err != nil {
			t.Fatal(err)
		}
		_, probs := rerun.Decide(rerun.Input{Plan: p, Run: "r1", Old: old, From: &target})
		if len(probs) != 1 || probs[0].Message != tc.want {
			t.Errorf("from %s: %+v, want %q", tc.from, probs, tc.want)
		}
	}
	// From the failed step: the approval carries over unless something changed.
	target := rerun.Target{Step: "b"}
	res, probs := rerun.Decide(rerun.Input{Plan: p, Run: "r1", Old: old, From: &target})
	if len(probs) > 0 || strings.Join(res.Reused, ",") != "gate,a" || len(res.RunAgain) != 0 {
		t.Errorf("same: %+v %+v", res, probs)
	}
	res, probs = rerun.Decide(rerun.Input{Plan: p, Run: "r1", Old: old, From: &target, Changed: true})
	if len(probs) > 0 || strings.Join(res.Reused, ",") != "a" || strings.Join(res.RunAgain, ",") != "gate" {
		t.Errorf("changed: %+v %+v", res, probs)
	}
	// A step the earlier run has no result for, read by a step that runs.
	res, probs = rerun.Decide(rerun.Input{Plan: p, Run: "r1", Old: old[2:], From: &target})
	if len(probs) != 1 || probs[0].Message != "b reads steps.a, which run r1 has no result for (the step is not in its version): resume from a or a step before it" {
		t.Errorf("missing: %+v %+v", res, probs)
	}
	for _, bad := range []string{"", "x[", "x[-1]", "x[a]", "[2]"} {
		if _, err := rerun.ParseTarget(bad); err == nil {
			t.Errorf("ParseTarget(%q) took it", bad)
		}
	}
}
