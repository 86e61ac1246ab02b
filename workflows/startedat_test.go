package workflows_test

import (
	"testing"
	"time"

	"github.com/opsrunbook/runbook/workflows"
)

const clockRunbook = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: clock}
spec:
  steps:
    - {id: note, action: log, with: {message: "${{ string(run.startedAt) }}"}}
  outputs: {started_at: string(run.startedAt)}
`

// run.startedAt is the time the API recorded the run, which its
// concurrency key saw, not the later time Temporal started the workflow;
// a run given none (a schedule's, a sub-runbook, one started before the
// API sent it) keeps the workflow's start time.
func TestRunStartedAtIsTheRecordedStart(t *testing.T) {
	recorded := time.Date(2026, 3, 1, 9, 30, 0, 123456789, time.UTC)
	for _, tt := range []struct {
		name      string
		startedAt *time.Time
	}{{"recorded by the API", &recorded}, {"not given", nil}} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.env.ExecuteWorkflow(workflows.WorkflowName, workflows.RunInput{Plan: compile(t, clockRunbook),
				Trigger: "api", TriggeredBy: "ann", Version: 1, StartedAt: tt.startedAt})
			res, typ := h.result()
			if typ != "" {
				t.Fatalf("run failed: %s", typ)
			}
			st := h.status()
			want := st.StartedAt
			if tt.startedAt != nil {
				want = *tt.startedAt
			}
			if got := res.Outputs["started_at"]; got != want.UTC().Format(time.RFC3339Nano) {
				t.Errorf("run.startedAt = %v, want %v", got, want)
			}
			if !st.StartedAt.Equal(want) {
				t.Errorf("status startedAt = %v, want %v", st.StartedAt, want)
			}
		})
	}
}
