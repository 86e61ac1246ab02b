package server

import (
	"bytes"
	"context"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/devserver/devtest"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/worker"
	"github.com/opsrunbook/runbook/workflows"
)

// wellFormedID is run.id as docs/runbook-format.md gives it: the name, a
// dash and 26 characters of the id alphabet.
func wellFormedID(runbook string) *regexp.Regexp {
	return regexp.MustCompile(`^` + regexp.QuoteMeta(runbook) + `-[0-9a-hjkmnp-tv-z]{26}$`)
}

// scheduledAPI is an API with its syncer driven by hand, a store, and
// tokens for an admin and an approver of group ops.
func scheduledAPI(t *testing.T) (*API, *store.Store, apiClient, string, string) {
	c := temporalStack(t)
	st, err := store.Open(filepath.Join(t.TempDir(), "sched.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	api := &API{Store: st, Temporal: c, TaskQueue: worker.TaskQueue, Catalog: activities.Catalog(), Scheduler: &Scheduler{Client: c, TaskQueue: worker.TaskQueue}}
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	ann, _, _ := st.CreateToken("ann", []string{"admin"}, []string{"ops"})
	bob, _, _ := st.CreateToken("bob", []string{"approver", "viewer"}, []string{"ops"})
	return api, st, apiClient{t, srv.URL}, ann, bob
}

// fire triggers a schedule on Temporal (a fire of its own, not the API's
// trigger) and returns the record the syncer adopts for it.
func fire(t *testing.T, api *API, st *store.Store, runbook, schedule string, known int) store.Run {
	t.Helper()
	ctx := context.Background()
	h := api.Temporal.ScheduleClient().GetHandle(ctx, ScheduleID(runbook, schedule))
	if err := h.Trigger(ctx, client.ScheduleTriggerOptions{}); err != nil {
		t.Fatal(err)
	}
	var runs []store.Run
	waitFor(t, func() bool {
		api.SyncOnce(ctx)
		runs, _, _ = st.Runs(store.RunFilter{Runbook: runbook})
		return len(runs) > known
	})
	if len(runs) != known+1 {
		t.Fatalf("one fire, %d records: %+v", len(runs)-known, runs)
	}
	return runs[0]
}

// A schedule's fire runs under a run id of the documented form, which is
// run.id inside the run and the id of its record; its approval is voted
// through the API like any run's.
func TestScheduledRunsHaveWellFormedIDs(t *testing.T) {
	api, st, cl, ann, bob := scheduledAPI(t)
	src := `apiVersion: runbook/v1
kind: Runbook
metadata: {name: scratch-db}
spec:
  schedules:
    - {name: nightly, cron: "0 2 * * *"}
  steps:
    - {id: gate, approval: {approvers: ["group:ops"]}}
    - {id: note, action: log, with: {message: "${{ run.id }}"}}
  outputs: {id: steps.note.outputs.message}
`
	if got := cl.call("POST", "/api/v1/runbooks", ann, src, nil); got != 201 {
		t.Fatalf("register: %d", got)
	}
	r := fire(t, api, st, "scratch-db", "nightly", 0)
	if !wellFormedID("scratch-db").MatchString(r.ID) {
		t.Errorf("a scheduled run's id: %s", r.ID)
	}
	if r.Trigger != "schedule" || r.TriggeredBy != "nightly" || r.StartedBy != SystemSchedule {
		t.Errorf("record: %+v", r)
	}
	// The suffix is ordered by the fire time, the one Temporal names the
	// launcher by: the first 9 characters are its milliseconds (all but
	// the last 3 bits).
	d, err := api.Temporal.ScheduleClient().GetHandle(context.Background(), ScheduleID("scratch-db", "nightly")).Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	launcher := d.Info.RecentActions[0].StartWorkflowResult.WorkflowID
	fired, err := time.Parse(time.RFC3339, strings.TrimPrefix(launcher, "scratch-db-nightly-"))
	if err != nil {
		t.Fatalf("launcher %s: %v", launcher, err)
	}
	if want := workflows.RunID("scratch-db", fired, [10]byte{})[:len("scratch-db-")+9]; !strings.HasPrefix(r.ID, want) {
		t.Errorf("run id %s, fired at %s: want %s…", r.ID, fired, want)
	}
	var sv struct{ RecentRuns []string }
	cl.call("GET", "/api/v1/runbooks/scratch-db/schedules/nightly", bob, nil, &sv)
	if len(sv.RecentRuns) != 1 || sv.RecentRuns[0] != r.ID {
		t.Errorf("the schedule's recent runs: %v", sv.RecentRuns)
	}
	waitFor(t, func() bool {
		var v runView
		cl.call("GET", "/api/v1/runs/"+r.ID, bob, nil, &v)
		return len(v.Steps) > 0 && v.Steps[0].Status == workflows.StatusWaitingApproval
	})
	var mine struct{ Approvals []struct{ Run string } }
	cl.call("GET", "/api/v1/approvals?mine=true", bob, nil, &mine)
	if len(mine.Approvals) != 1 || mine.Approvals[0].Run != r.ID {
		t.Errorf("approvals: %+v", mine)
	}
	if got := cl.call("POST", "/api/v1/runs/"+r.ID+"/approvals/gate", bob, map[string]any{"decision": "approve"}, nil); got != 200 {
		t.Fatalf("vote: %d", got)
	}
	var res workflows.RunResult
	if err := api.Temporal.GetWorkflow(context.Background(), r.ID, "").Get(context.Background(), &res); err != nil {
		t.Fatal(err)
	}
	if res.Outputs["id"] != r.ID {
		t.Errorf("run.id %v, record %s", res.Outputs["id"], r.ID)
	}
	waitFor(t, func() bool {
		api.SyncOnce(context.Background())
		got, err := st.Run(r.ID)
		return err == nil && got.Status == workflows.RunSucceeded
	})
	replayLaunch(t, api.Temporal, "scratch-db", "nightly")

	// Cancelling a scheduled run through the API ends it, and its
	// launcher with it: the schedule has nothing running.
	next := fire(t, api, st, "scratch-db", "nightly", 1)
	if next.ID == r.ID || !wellFormedID("scratch-db").MatchString(next.ID) {
		t.Errorf("the next fire's id: %s", next.ID)
	}
	waitFor(t, func() bool {
		var v runView
		cl.call("GET", "/api/v1/runs/"+next.ID, bob, nil, &v)
		return len(v.Steps) > 0 && v.Steps[0].Status == workflows.StatusWaitingApproval
	})
	if got := cl.call("POST", "/api/v1/runs/"+next.ID+"/cancel", ann, nil, nil); got != 202 {
		t.Fatalf("cancel: %d", got)
	}
	h := api.Temporal.ScheduleClient().GetHandle(context.Background(), ScheduleID("scratch-db", "nightly"))
	waitFor(t, func() bool {
		api.SyncOnce(context.Background())
		got, err := st.Run(next.ID)
		d, derr := h.Describe(context.Background())
		return err == nil && got.Status == workflows.RunCancelled && derr == nil && len(d.Info.RunningWorkflows) == 0
	})
}

// A schedule made before launchers started RunbookWorkflow itself: its
// fires are still adopted under the id Temporal gave them, and the syncer
// moves the schedule to the launcher, so the next fire is well formed.
func TestSchedulesMadeBeforeLaunchersMoveToThem(t *testing.T) {
	api, st, cl, ann, _ := scheduledAPI(t)
	src := `apiVersion: runbook/v1
kind: Runbook
metadata: {name: legacy}
spec:
  schedules:
    - {name: hourly, cron: "@hourly"}
  steps:
    - {id: note, action: log, with: {message: "${{ run.id }}"}}
  outputs: {id: steps.note.outputs.message}
`
	if got := cl.call("POST", "/api/v1/runbooks", ann, src, nil); got != 201 {
		t.Fatalf("register: %d", got)
	}
	ctx := context.Background()
	h := api.Temporal.ScheduleClient().GetHandle(ctx, ScheduleID("legacy", "hourly"))
	err := h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
		sched := in.Description.Schedule
		a := sched.Action.(*client.ScheduleWorkflowAction)
		a.Workflow, a.ID = workflows.WorkflowName, "legacy-hourly"
		return &client.ScheduleUpdate{Schedule: &sched}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	old := fire(t, api, st, "legacy", "hourly", 0)
	if !regexp.MustCompile(`^legacy-hourly-\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`).MatchString(old.ID) || old.StartedBy != SystemSchedule {
		t.Errorf("an old fire's record: %+v", old)
	}
	d, err := h.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a := d.Schedule.Action.(*client.ScheduleWorkflowAction); a.Workflow != workflows.LauncherName {
		t.Errorf("the old schedule still starts %v", a.Workflow)
	}
	var res workflows.RunResult
	if err := api.Temporal.GetWorkflow(ctx, old.ID, "").Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	// Wait for the old fire to end: the schedule skips overlapping fires.
	waitFor(t, func() bool {
		d, err := h.Describe(ctx)
		return err == nil && len(d.Info.RunningWorkflows) == 0
	})
	next := fire(t, api, st, "legacy", "hourly", 1)
	if !wellFormedID("legacy").MatchString(next.ID) {
		t.Errorf("the next fire's id: %s", next.ID)
	}
	if err := api.Temporal.GetWorkflow(ctx, next.ID, "").Get(ctx, &res); err != nil || res.Outputs["id"] != next.ID {
		t.Errorf("run.id %v (%v), record %s", res.Outputs["id"], err, next.ID)
	}
}

// replayLaunch replays the history of a schedule's latest fire's launcher:
// it derives its run's id again from the same history.
func replayLaunch(t *testing.T, c client.Client, runbook, schedule string) {
	t.Helper()
	ctx := context.Background()
	d, err := c.ScheduleClient().GetHandle(ctx, ScheduleID(runbook, schedule)).Describe(ctx)
	if err != nil || len(d.Info.RecentActions) == 0 {
		t.Fatalf("no fire: %v", err)
	}
	fired := d.Info.RecentActions[len(d.Info.RecentActions)-1].StartWorkflowResult
	if err := c.GetWorkflow(ctx, fired.WorkflowID, fired.FirstExecutionRunID).Get(ctx, nil); err != nil {
		t.Fatal(err)
	}
	h, err := client.HistoryFromJSON(bytes.NewReader(devtest.HistoryJSON(t, c, fired.WorkflowID)), client.HistoryJSONOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := sdkworker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(workflows.ScheduleLauncher, workflow.RegisterOptions{Name: workflows.LauncherName})
	err = r.ReplayWorkflowHistoryWithOptions(nil, h, sdkworker.ReplayWorkflowHistoryOptions{
		OriginalExecution: workflow.Execution{ID: fired.WorkflowID, RunID: fired.FirstExecutionRunID}})
	if err != nil {
		t.Errorf("the launcher does not replay: %v", err)
	}
}

// cancel-other and terminate-other reach the run in progress through its
// launcher: the earlier run ends cancelled, or terminated (its record
// failed, type Terminated: a bug fix, the record stayed running), and the
// new fire runs.
func TestScheduleOverlapReachesTheRun(t *testing.T) {
	api, st, cl, ann, bob := scheduledAPI(t)
	for _, tc := range []struct{ overlap, ended, errorType string }{
		{"cancel-other", workflows.RunCancelled, workflows.ErrCancelled},
		{"terminate-other", workflows.RunFailed, "Terminated"},
	} {
		name := "gated-" + tc.overlap
		src := "apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: " + name + "}\nspec:\n" +
			"  schedules:\n    - {name: nightly, cron: \"0 2 * * *\", overlap: " + tc.overlap + "}\n" +
			"  steps:\n    - {id: gate, approval: {approvers: [\"group:ops\"]}}\n"
		if got := cl.call("POST", "/api/v1/runbooks", ann, src, nil); got != 201 {
			t.Fatalf("register: %d", got)
		}
		waiting := func(id string) bool {
			var v runView
			cl.call("GET", "/api/v1/runs/"+id, bob, nil, &v)
			return len(v.Steps) > 0 && v.Steps[0].Status == workflows.StatusWaitingApproval
		}
		first := fire(t, api, st, name, "nightly", 0)
		waitFor(t, func() bool { return waiting(first.ID) })
		second := fire(t, api, st, name, "nightly", 1)
		waitFor(t, func() bool {
			api.SyncOnce(context.Background())
			r, err := st.Run(first.ID)
			return err == nil && r.Status == tc.ended && r.ErrorType == tc.errorType && waiting(second.ID)
		})
	}
}
