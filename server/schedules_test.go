package server

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/runbooks"
	"github.com/opsrunbook/runbook/worker"
	"github.com/opsrunbook/runbook/workflows"
)

func TestSchedulesReconcileIntoTemporal(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := temporalStack(t)

	src := `apiVersion: runbook/v1
kind: Runbook
metadata: {name: backup}
spec:
  params: [{name: target, type: string, required: true}]
  schedules:
    - {name: nightly, cron: "0 2 * * *", timezone: Europe/Berlin, params: {target: db}, overlap: buffer-one, catchupWindow: 1h}
    - {name: hourly, cron: "@hourly", params: {target: files}, paused: true}
  steps:
    - {id: note, action: log, with: {message: "backing up ${{ params.target }} for ${{ run.triggeredBy }}"}}
  outputs: {said: steps.note.outputs.message}
`
	p, _, err := runbooks.Build("b.yaml", []byte(src), runbooks.Options{Actions: activities.Catalog()})
	if err != nil {
		t.Fatal(err)
	}
	s := &Scheduler{Client: c, TaskQueue: worker.TaskQueue}
	key := strings.Repeat("ab", 32)
	if err := s.Reconcile(ctx, p, 1, RunSettings{VoteKey: key}, nil); err != nil {
		t.Fatal(err)
	}
	nightly := c.ScheduleClient().GetHandle(ctx, ScheduleID("backup", "nightly"))
	d, err := nightly.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := runbooks.NextFires(p.Schedules[0], time.Now(), 3)
	if d.Schedule.Spec.TimeZoneName != "Europe/Berlin" || d.Schedule.Policy.Overlap != enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE ||
		d.Schedule.Policy.CatchupWindow != time.Hour || d.Schedule.State.Paused {
		t.Errorf("nightly: spec %+v, policy %+v, state %+v", d.Schedule.Spec, d.Schedule.Policy, d.Schedule.State)
	}
	if len(d.Info.NextActionTimes) < 3 || !d.Info.NextActionTimes[0].Equal(want[0]) || !d.Info.NextActionTimes[2].Equal(want[2]) {
		t.Errorf("next fires: Temporal %v, compiler %v", d.Info.NextActionTimes, want)
	}
	if hd, err := c.ScheduleClient().GetHandle(ctx, ScheduleID("backup", "hourly")).Describe(ctx); err != nil || !hd.Schedule.State.Paused {
		t.Errorf("hourly: %+v, %v", hd, err)
	}

	// Trigger now: a run starts with the schedule's params and trigger.
	if err := nightly.Trigger(ctx, client.ScheduleTriggerOptions{}); err != nil {
		t.Fatal(err)
	}
	var res workflows.RunResult
	for i := 0; ; i++ {
		d, err = nightly.Describe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Info.RecentActions) > 0 {
			// The fire's launcher returns what its run returned.
			ex := d.Info.RecentActions[0].StartWorkflowResult
			if err := c.GetWorkflow(ctx, ex.WorkflowID, ex.FirstExecutionRunID).Get(ctx, &res); err != nil {
				t.Fatal(err)
			}
			break
		}
		if i > 100 {
			t.Fatal("the triggered run never started")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if res.Outputs["said"] != "backing up db for nightly" {
		t.Errorf("scheduled run said %v", res.Outputs["said"])
	}

	// A new version changes one schedule and drops the other.
	p2src := strings.Replace(strings.Replace(src, `"0 2 * * *"`, `"30 3 * * *"`, 1),
		"    - {name: hourly, cron: \"@hourly\", params: {target: files}, paused: true}\n", "", 1)
	p2, _, err := runbooks.Build("b.yaml", []byte(p2src), runbooks.Options{Actions: activities.Catalog()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Reconcile(ctx, p2, 2, RunSettings{VoteKey: key}, []string{"nightly", "hourly"}); err != nil {
		t.Fatal(err)
	}
	d, _ = nightly.Describe(ctx)
	if want, _ := runbooks.NextFires(p2.Schedules[0], time.Now(), 1); !d.Info.NextActionTimes[0].Equal(want[0]) {
		t.Errorf("updated next fire: %v, want %v", d.Info.NextActionTimes[0], want[0])
	}
	_, err = c.ScheduleClient().GetHandle(ctx, ScheduleID("backup", "hourly")).Describe(ctx)
	var nf *serviceerror.NotFound
	if !errors.As(err, &nf) {
		t.Errorf("dropped schedule still there: %v", err)
	}
}
