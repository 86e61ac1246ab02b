package server

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/worker"
	"github.com/opsrunbook/runbook/workflows"
)

const bigLoop = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: bigloop}
spec:
  steps:
    - id: fan
      forEach: "lists.range(%d)"
      as: i
      maxConcurrency: 100
      steps:
        - {id: say, action: log, with: {message: "item ${{ i }}"}}
        - {id: run, action: shell, with: {command: [echo, "${{ string(i) }}"]}}
    - {id: done, action: log, with: {message: done}}
`

// TestBigLoopKeepsItsTimeline runs a forEach of 2,000 items (a log and a
// shell step each, 100 at a time) with a small history budget, so that it
// hands over several times, on a worker of its own. A read of the ended
// run that no worker answers (as one whose last execution takes longer to
// replay than a query may) shows how it ended and the records; it used to
// be kept as the run's final, empty, timeline, so that every later read
// showed none. Once a worker answers, the whole timeline is read, recorded,
// and served from the records.
func TestBigLoopKeepsItsTimeline(t *testing.T) {
	const items = 2000
	c := temporalStack(t)
	eachStore(t, func(t *testing.T, st *store.Store) {
		queue := fmt.Sprintf("bigloop-%d", time.Now().UnixNano())
		startWorker := func() sdkworker.Worker {
			w := sdkworker.New(c, queue, sdkworker.Options{MaxConcurrentActivityExecutionSize: 100})
			worker.Register(w, &activities.Env{Secrets: activities.EnvSecrets{}})
			if err := w.Start(); err != nil {
				t.Fatal(err)
			}
			return w
		}
		w := startWorker()
		api := &API{Store: st, Temporal: c, TaskQueue: queue, Catalog: activities.Catalog(), HistoryBudget: 3000, QueryTimeout: time.Second}
		srv := httptest.NewServer(api.Handler())
		defer srv.Close()
		cl := apiClient{t, srv.URL}
		admin, _, _ := st.CreateToken("root", []string{"admin"}, nil)
		if got := cl.call("POST", "/api/v1/runbooks", admin, fmt.Sprintf(bigLoop, items), nil); got != 201 {
			t.Fatalf("register: %d", got)
		}
		var run runView
		if got := cl.call("POST", "/api/v1/runbooks/bigloop/runs", admin, map[string]any{}, &run); got != 201 {
			t.Fatalf("start: %d", got)
		}
		ctx := context.Background()
		var closed time.Time
		for deadline := time.Now().Add(4 * time.Minute); ; time.Sleep(time.Second) {
			d, err := c.DescribeWorkflowExecution(ctx, run.ID, "")
			if err != nil {
				t.Fatal(err)
			}
			closed = d.WorkflowExecutionInfo.GetCloseTime().AsTime()
			if s := d.WorkflowExecutionInfo.Status; s != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING && s != enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW {
				if s != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
					t.Fatalf("the run closed %s", s)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the run did not end in 4 minutes")
			}
		}
		w.Stop()

		want := 2 + 2*items
		var v runView
		for range 2 {
			v = runView{}
			if got := cl.call("GET", "/api/v1/runs/"+run.ID, admin, nil, &v); got != 200 {
				t.Fatalf("get without a worker: %d", got)
			}
			if v.Status != workflows.RunSucceeded || len(v.Steps) != 0 {
				t.Fatalf("without a worker: %s, %d entries", v.Status, len(v.Steps))
			}
		}
		if rec, _ := st.Run(run.ID); rec.Recorded != 0 || rec.Status != workflows.RunSucceeded {
			t.Fatalf("without a worker the record says %s, recorded %d", rec.Status, rec.Recorded)
		} else if rec.EndedAt == nil || rec.EndedAt.Sub(closed).Abs() > time.Millisecond {
			t.Fatalf("without a worker the record ends at %v, not when Temporal closed the run (%v)", rec.EndedAt, closed)
		}

		defer startWorker().Stop()
		v = runView{}
		if got := cl.call("GET", "/api/v1/runs/"+run.ID+"?stepsLimit=2000", admin, nil, &v); got != 200 {
			t.Fatalf("get: %d", got)
		}
		if v.Status != workflows.RunSucceeded || v.StepsTotal != want || len(v.Steps) != 2000 || v.Handovers < 2 {
			t.Fatalf("run %s: %d of %d entries, %d hand-overs, error %q", v.Status, len(v.Steps), v.StepsTotal, v.Handovers, v.Error)
		}
		rec, _ := st.Run(run.ID)
		steps, err := st.Steps(run.ID)
		if err != nil || len(steps) != want || rec.Recorded != want || rec.Handovers != v.Handovers {
			t.Fatalf("records: %d entries, recorded %d, %d hand-overs, %v", len(steps), rec.Recorded, rec.Handovers, err)
		}
		for i, s := range steps {
			if s.Status != workflows.StatusSucceeded || s.StartedAt == nil || s.EndedAt == nil || (i >= 2) != (s.Loop == "fan") {
				t.Fatalf("record %d: %+v", i, s)
			}
		}
		queries := counted()
		var last runView
		if got := cl.call("GET", fmt.Sprintf("/api/v1/runs/%s?stepsOffset=%d&stepsLimit=2000", run.ID, want-1), admin, nil, &last); got != 200 ||
			len(last.Steps) != 1 || last.Steps[0].ID != "run" || *last.Steps[0].Item != items-1 {
			t.Fatalf("last page: %d %+v", got, last.Steps)
		}
		if got := counted(); got != queries {
			t.Errorf("%v status queries for a view of the recorded run", got-queries)
		}
	})
}
