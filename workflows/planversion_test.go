package workflows_test

import (
	"strings"
	"testing"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/workflows"
)

// TestPlanVersions: the interpreter runs every plan layout from MinVersion to
// Version (stored versions and running workflows hold older ones) and
// refuses the rest with a message naming both.
func TestPlanVersions(t *testing.T) {
	const src = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: versions}
spec:
  steps:
    - {id: hello, action: log, with: {message: hi}}
`
	tests := []struct {
		version int
		want    string // "" runs
	}{
		{plan.MinVersion - 1, "plan version 0; this worker runs versions 1 to 2"},
		{plan.MinVersion, ""},
		{plan.Version, ""},
		{plan.Version + 1, "plan version 3; this worker runs versions 1 to 2"},
	}
	for _, tt := range tests {
		h := newHarness(t, nil)
		p := compile(t, src)
		p.Version = tt.version
		h.env.ExecuteWorkflow(workflows.WorkflowName, workflows.RunInput{Plan: p, Trigger: "api", TriggeredBy: "ann", Version: 1})
		_, errType := h.result()
		if tt.want == "" {
			if errType != "" {
				t.Errorf("plan version %d: %s, want it to run", tt.version, h.env.GetWorkflowError())
			}
			continue
		}
		if err := h.env.GetWorkflowError(); errType != "BadPlan" || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("plan version %d: %s %v, want BadPlan %q", tt.version, errType, err, tt.want)
		}
	}
}

// TestPlanRecordsActionFacts: the compiler writes what the interpreter needs
// of each action into the plan, for steps and compensations alike.
func TestPlanRecordsActionFacts(t *testing.T) {
	p := compile(t, `apiVersion: runbook/v1
kind: Runbook
metadata: {name: facts}
spec:
  steps:
    - id: run
      action: shell
      with: {command: [echo, hi]}
      compensate: {action: log, with: {message: undo}}
`)
	s := p.Step("run")
	if p.Version != 2 || !s.Heartbeats || s.Local || !s.Compensate.Local || s.Compensate.Heartbeats {
		t.Errorf("version %d, step %+v, compensation %+v", p.Version, s.ActionFacts, s.Compensate.ActionFacts)
	}
}
