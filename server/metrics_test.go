package server

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/worker"
	"github.com/opsrunbook/runbook/workflows"
)

const counted1 = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: %s}
spec:
  steps:
    - {id: hello, action: log, with: {message: hi}}
    - {id: there, action: log, with: {message: there}}
`

// A run's end is counted in runbook_runs_finished_total once, wherever its
// record first says it ended: here views (the run's page, its event
// stream, the approvals list) and the syncer all race to record runs that
// ended, and each run counts once, its steps once.
func TestRunsFinishedCountsEachEndOnce(t *testing.T) {
	c := temporalStack(t)
	eachStore(t, func(t *testing.T, st *store.Store) {
		name := fmt.Sprintf("counted-%d", time.Now().UnixNano())
		api := &API{Store: st, Temporal: c, TaskQueue: worker.TaskQueue, Catalog: activities.Catalog()}
		srv := httptest.NewServer(api.Handler())
		defer srv.Close()
		cl := apiClient{t, srv.URL}
		admin, _, _ := st.CreateToken("root", []string{"admin"}, nil)
		if got := cl.call("POST", "/api/v1/runbooks", admin, fmt.Sprintf(counted1, name), nil); got != 201 {
			t.Fatalf("register: %d", got)
		}
		const runs = 4
		ids := make([]string, runs)
		for i := range ids {
			var v runView
			if got := cl.call("POST", "/api/v1/runbooks/"+name+"/runs", admin, map[string]any{}, &v); got != 201 {
				t.Fatalf("start: %d", got)
			}
			ids[i] = v.ID
		}
		ctx := context.Background()
		for _, id := range ids { // ended in Temporal, still running in the records
			waitFor(t, func() bool {
				d, err := c.DescribeWorkflowExecution(ctx, id, "")
				return err == nil && d.WorkflowExecutionInfo.Status == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED
			})
		}
		// Run 0: its page records the end, then the syncer passes. Run 1:
		// its event stream. Run 2: the approvals list. Run 3: all of them
		// at once, and the syncer.
		var v runView
		cl.call("GET", "/api/v1/runs/"+ids[0], admin, nil, &v)
		lastStreamEvent(t, &trustAPI{apiClient: cl, viewer: admin}, ids[1])
		cl.call("GET", "/api/v1/approvals", admin, nil, nil)
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Go(func() {
				switch i {
				case 0:
					cl.call("GET", "/api/v1/runs/"+ids[3], admin, nil, nil)
				case 1:
					lastStreamEvent(t, &trustAPI{apiClient: cl, viewer: admin}, ids[3])
				case 2:
					api.SyncOnce(ctx)
				}
			})
		}
		wg.Wait()
		api.SyncOnce(ctx)
		for _, id := range ids {
			cl.call("GET", "/api/v1/runs/"+id, admin, nil, &v)
			if v.Status != workflows.RunSucceeded || len(v.Steps) != 2 {
				t.Fatalf("run %s: %s, %d entries", id, v.Status, len(v.Steps))
			}
		}
		if got := value(runsFinished.WithLabelValues(name, workflows.RunSucceeded)); got != runs {
			t.Errorf("runs finished: %v, want %d", got, runs)
		}
		if got := value(stepsDone.WithLabelValues(name, "action", workflows.StatusSucceeded)); got != 2*runs {
			t.Errorf("steps finished: %v, want %d", got, 2*runs)
		}
	})
}

// value is a counter's value.
func value(c prometheus.Counter) float64 {
	var m dto.Metric
	_ = c.Write(&m)
	return m.GetCounter().GetValue()
}
