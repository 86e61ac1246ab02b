package server

import (
	"reflect"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/workflows"
)

// A timeline entry reads back from its record as it was, every field of
// it: the fixture sets each one, so a field added to StepState is covered.
func TestStepRecordKeepsEveryField(t *testing.T) {
	at := time.Date(2026, 12, 2, 3, 4, 5, 123456000, time.UTC)
	later := at.Add(time.Minute)
	item := 3
	in := workflows.StepState{ID: "check", Kind: "action", Loop: "hosts", Item: &item, Phase: "compensate", Compensates: "deploy",
		Status: workflows.StatusSucceeded, Attempts: 2, StartedAt: &at, EndedAt: &later, Outputs: map[string]any{"exitCode": 0.0},
		Error: "exit status 1", ErrorType: "ShellExitError", Message: "why", Approvers: []string{"group:board"}, MinApprovals: 1,
		Votes:                 []workflows.Vote{{User: "bob", Decision: plan.VoteApprove, At: at, Comment: "ok"}},
		Deciders:              []string{"group:sre"},
		Decisions:             []workflows.Decision{{User: "bob", Action: plan.DecideRetry, At: later, Comment: "again", Inputs: map[string]any{"n": 1.0}}},
		CompensationStartedAt: &later, CompensationEndedAt: &later, CompensationError: "undo failed", ReusedFrom: "release-1"}
	v := reflect.ValueOf(in)
	for i := range v.NumField() {
		if f := v.Type().Field(i); f.IsExported() && v.Field(i).IsZero() {
			t.Errorf("the fixture leaves %s unset", f.Name)
		}
	}
	if out := stepState(stepRecord("run-1", in)); !reflect.DeepEqual(out, in) {
		t.Errorf("read back\n%+v\nwant\n%+v", out, in)
	}
}
