package server

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/worker"
	"github.com/opsrunbook/runbook/workflows"
)

const busyLoop = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: busy}
spec:
  steps:
    - {id: first, action: shell, with: {command: [echo, go]}}
    - id: fan
      forEach: "lists.range(1500)"
      as: i
      maxConcurrency: 100
      steps:
        - {id: say, action: log, with: {message: "item ${{ string(i) }}"}}
`

// A running run whose worker is busy in a long workflow task (a loop of
// local actions: the worker answers queries only between tasks) answers
// its first read at once, stale: nothing was read of it before and the
// syncer wrote nothing, so the view is the timeline its plan starts with.
// The run is read behind, and a later read is the run's own.
func TestFirstReadOfABusyRunIsStale(t *testing.T) {
	c := temporalStack(t)
	eachStore(t, func(t *testing.T, st *store.Store) {
		api := &API{Store: st, Temporal: c, TaskQueue: worker.TaskQueue, Catalog: activities.Catalog()}
		srv := httptest.NewServer(api.Handler())
		defer srv.Close()
		cl := apiClient{t, srv.URL}
		admin, _, _ := st.CreateToken("root", []string{"admin"}, nil)
		if got := cl.call("POST", "/api/v1/runbooks", admin, busyLoop, nil); got != 201 {
			t.Fatalf("register: %d", got)
		}
		var run runView
		if got := cl.call("POST", "/api/v1/runbooks/busy/runs", admin, map[string]any{}, &run); got != 201 {
			t.Fatalf("start: %d", got)
		}
		// The shell step's activity has completed and the task that runs
		// the loop has started: the worker is busy with it.
		ctx := context.Background()
		waitFor(t, func() bool {
			done := false
			it := c.GetWorkflowHistory(ctx, run.ID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
			for it.HasNext() {
				e, err := it.Next()
				if err != nil {
					return false
				}
				done = done || e.GetEventType() == enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
				if done && e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED {
					return true
				}
			}
			return false
		})
		time.Sleep(300 * time.Millisecond)

		var v runView
		began := time.Now()
		got := cl.call("GET", "/api/v1/runs/"+run.ID, admin, nil, &v)
		took := time.Since(began)
		if took > 5*time.Second { // a guard only (a loaded machine is slow); v.Stale says the path; docs/benchmarks.md has the figures
			t.Errorf("the first read took %v", took)
		}
		steps := ""
		for _, s := range v.Steps {
			steps += fmt.Sprintf("%s:%s:%s ", s.ID, s.Kind, s.Status)
		}
		if want := "first:action:pending fan:forEach:pending "; got != 200 || v.Status != workflows.RunRunning || !v.Stale || v.StepsTotal != 2 || steps != want {
			t.Fatalf("first read: %d %s stale=%v total=%d steps %q, want running, stale, 2 steps %q", got, v.Status, v.Stale, v.StepsTotal, steps, want)
		}
		// Read behind: a later read has the run's own timeline.
		waitFor(t, func() bool {
			v = runView{}
			cl.call("GET", "/api/v1/runs/"+run.ID, admin, nil, &v)
			return !v.Stale && len(v.Steps) > 2
		})
		if v.Steps[0].ID != "first" || v.Steps[0].Status != workflows.StatusSucceeded {
			t.Errorf("read behind: %+v", v.Steps[0])
		}
		if end := waitRun(t, cl, admin, run.ID); end.Status != workflows.RunSucceeded || end.Stale {
			t.Errorf("the run ended %s (stale %v)", end.Status, end.Stale)
		}
	})
}
