package workflows_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opsrunbook/runbook/workflows"
)

// A schedule's launcher runs the plan as its child under a run id of the
// API's form, ordered by the fire's time (its own start when no schedule
// started it), and ends as the run ends.
func TestScheduleLauncherStartsAWellFormedRun(t *testing.T) {
	start := time.Date(2026, 12, 1, 2, 0, 3, 0, time.UTC)
	fired := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, steps, wantErr string
		fired                *time.Time // TemporalScheduledStartTime, which schedules set
		idTime               time.Time
	}{
		{"succeeds", `    - {id: say, action: log, with: {message: hi}}`, "", &fired, fired},
		{"fails", `    - {id: say, action: log, with: {message: hi}}
    - {id: check, assert: {that: "false", message: no}}`, workflows.ErrAssertion, &fired, fired},
		{"started by hand", `    - {id: say, action: log, with: {message: hi}}`, "", nil, start},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.env.RegisterWorkflowWithOptions(workflows.ScheduleLauncher, workflow.RegisterOptions{Name: workflows.LauncherName})
			h.env.SetStartTime(start)
			if tc.fired != nil {
				if err := h.env.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(temporal.NewSearchAttributeKeyTime("TemporalScheduledStartTime").ValueSet(*tc.fired))); err != nil {
					t.Fatal(err)
				}
			}
			p := compile(t, "apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: nightly-db}\nspec:\n  steps:\n"+tc.steps+"\n")
			h.env.ExecuteWorkflow(workflows.LauncherName, workflows.RunInput{Plan: p, Params: map[string]any{}, Trigger: "schedule", TriggeredBy: "nightly", StartedBy: "system:schedule", Version: 1})
			if _, typ := h.result(); typ != tc.wantErr {
				t.Errorf("launcher ended with %q, want %q", typ, tc.wantErr)
			}
			if len(h.calls) != 1 {
				t.Fatalf("calls: %+v", h.calls)
			}
			// The first 9 characters of the suffix are the fire's milliseconds.
			id, timePart := h.calls[0].in.RunID, workflows.RunID("nightly-db", tc.idTime, [10]byte{})[:len("nightly-db-")+9]
			if !regexp.MustCompile(`^nightly-db-[0-9a-hjkmnp-tv-z]{26}$`).MatchString(id) || !strings.HasPrefix(id, timePart) {
				t.Errorf("the run's steps saw run id %s, want %s…", id, timePart)
			}
		})
	}
}

// Run ids order by their time, to the millisecond.
func TestRunIDsOrderByTime(t *testing.T) {
	at := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
	a := workflows.RunID("r", at, [10]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	b := workflows.RunID("r", at.Add(time.Millisecond), [10]byte{})
	if !(a < b) || len(a) != len("r-")+26 {
		t.Errorf("%s then %s", a, b)
	}
}
