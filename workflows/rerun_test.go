package workflows_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/rerun"
	"github.com/opsrunbook/runbook/workflows"
	"go.temporal.io/sdk/temporal"
)

const releaseSrc = head + `  steps:
    - id: prep
      action: shell
      with: {command: [prep]}
    - id: deploy
      action: shell
      with: {command: [deploy]}
      compensate:
        action: shell
        with: {command: [undo, "${{ steps.deploy.outputs.stdout }}"]}
    - id: health
      action: shell
      with: {command: [health]}
    - id: promote
      action: shell
      with: {command: [promote, "${{ steps.deploy.outputs.stdout }}"]}
`

// shellBy answers shell calls by their first argument; fail lists those
// that fail.
func shellBy(fail ...string) map[string]action {
	return map[string]action{"shell": func(in plan.ActionInput) (map[string]any, error) {
		cmd, _ := in.Inputs["command"].([]any)
		name, _ := cmd[0].(string)
		if slices.Contains(fail, name) || slices.Contains(fail, in.StepID+"/"+strings.Join(argsOf(cmd[1:]), ",")) {
			return nil, temporal.NewNonRetryableApplicationError(name+" failed", "ShellExitError", errors.New(name))
		}
		return map[string]any{"exitCode": 0, "stdout": name + "-" + in.RunID, "stderr": ""}, nil
	}}
}

func argsOf(xs []any) []string {
	var out []string
	for _, x := range xs {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// rerunOf runs src again as a rerun of the run whose timeline is old,
// from the step given.
func rerunOf(t *testing.T, h *harness, src string, old []workflows.StepState, from string) *rerun.Result {
	t.Helper()
	p := compile(t, src)
	target, err := rerun.ParseTarget(from)
	if err != nil {
		t.Fatal(err)
	}
	res, probs := rerun.Decide(rerun.Input{Plan: p, Run: "old-run", Old: old, From: &target})
	if len(probs) > 0 {
		t.Fatalf("refused: %+v", probs)
	}
	reuse, err := workflows.EncodeReuse(res.Reuse)
	if err != nil {
		t.Fatal(err)
	}
	bound, _ := p.BindParams(nil)
	h.env.ExecuteWorkflow(workflows.WorkflowName, workflows.RunInput{Plan: p, Params: bound, Trigger: "api", TriggeredBy: "ann", Version: 1,
		Rerun: &workflows.Rerun{Of: "old-run", From: from, By: "ann", Reuse: reuse}})
	return res
}

func TestRerunResumesAtTheFailedStep(t *testing.T) {
	first := newHarness(t, shellBy("health"))
	first.run(releaseSrc, nil)
	if _, typ := first.result(); typ != "ShellExitError" {
		t.Fatalf("first run: %q", typ)
	}
	old := first.status().Steps
	if st := stepOf(t, &workflows.Status{Steps: old}, "deploy"); st.Status != workflows.StatusCompensated {
		t.Fatalf("deploy in the first run: %s", st.Status)
	}
	deployOut := stepOf(t, &workflows.Status{Steps: old}, "deploy").Outputs["stdout"]

	// Resumed at health with the fault gone: prep and deploy are reused.
	second := newHarness(t, shellBy())
	res := rerunOf(t, second, releaseSrc, old, "health")
	if got, want := strings.Join(res.Reused, ","), "prep,deploy"; got != want {
		t.Errorf("reused %s, want %s", got, want)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "step deploy was compensated in run old-run") {
		t.Errorf("warnings %q", res.Warnings)
	}
	if _, typ := second.result(); typ != "" {
		t.Fatalf("rerun failed: %s", typ)
	}
	if got := strings.Join(second.called("shell"), ","); got != "health,promote" {
		t.Errorf("the rerun ran %s, want health,promote", got)
	}
	st := second.status()
	for _, id := range []string{"prep", "deploy"} {
		if e := stepOf(t, st, id); e.Status != workflows.StatusReused || e.ReusedFrom != "old-run" {
			t.Errorf("%s: %s from %q", id, e.Status, e.ReusedFrom)
		}
	}
	if e := stepOf(t, st, "deploy"); e.Outputs["stdout"] != deployOut {
		t.Errorf("deploy outputs %v, want the first run's %v", e.Outputs, deployOut)
	}
	promote := second.calls[len(second.calls)-1].in.Inputs["command"].([]any)
	if promote[1] != deployOut {
		t.Errorf("promote read %v, want the reused %v", promote[1], deployOut)
	}

	// A failure in the rerun compensates the reused step.
	third := newHarness(t, shellBy("health"))
	rerunOf(t, third, releaseSrc, old, "health")
	if _, typ := third.result(); typ != "ShellExitError" {
		t.Fatalf("third run: %q", typ)
	}
	if got := strings.Join(third.called("shell"), ","); got != "health,deploy" {
		t.Errorf("the failing rerun ran %s, want health then deploy's undo", got)
	}
	undo := third.calls[len(third.calls)-1].in.Inputs["command"].([]any)
	if undo[0] != "undo" || undo[1] != deployOut {
		t.Errorf("undo ran %v, want [undo %v]", undo, deployOut)
	}
	if e := stepOf(t, third.status(), "deploy"); e.Status != workflows.StatusCompensated {
		t.Errorf("deploy after the rerun failed: %s", e.Status)
	}
}

const hostsSrc = head + `  steps:
    - id: hosts
      forEach: "['a', 'b', 'c', 'd', 'e', 'f']"
      maxConcurrency: 6
      steps:
        - id: restart
          action: shell
          with: {command: [restart, "${{ item }}"]}
    - id: done
      action: shell
      with: {command: [done]}
`

func TestRerunResumesOnlyTheItemsThatFailed(t *testing.T) {
	first := newHarness(t, shellBy("restart/b", "restart/e"))
	first.run(hostsSrc, nil)
	if _, typ := first.result(); typ != workflows.ErrForEachBudget {
		t.Fatalf("first run: %q", typ)
	}
	old := first.status().Steps
	second := newHarness(t, shellBy())
	res := rerunOf(t, second, hostsSrc, old, "hosts[1]")
	if got, want := strings.Join(res.Reused, ","), "restart[0],restart[2],restart[3],restart[5]"; got != want {
		t.Errorf("reused %s, want %s", got, want)
	}
	if _, typ := second.result(); typ != "" {
		t.Fatalf("rerun failed: %s", typ)
	}
	var ran []string
	for _, c := range second.calls {
		cmd := c.in.Inputs["command"].([]any)
		ran = append(ran, strings.Join(argsOf(cmd), " "))
	}
	slices.Sort(ran)
	if got := strings.Join(ran, ","); got != "done,restart b,restart e" {
		t.Errorf("the rerun ran %s", got)
	}
	hosts := stepOf(t, second.status(), "hosts")
	if hosts.Outputs["succeeded"] != float64(6) {
		t.Errorf("hosts outputs %v", hosts.Outputs)
	}
}
