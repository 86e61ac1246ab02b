package server

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/worker"
)

// counted reads runbook_status_queries_total.
func counted() float64 {
	var m dto.Metric
	_ = statusQueries.Write(&m)
	return m.GetCounter().GetValue()
}

// The syncer, the run view and the approvals list ask a run for its
// timeline only when its history grew: a run waiting for an approval is
// asked once, then again after the vote.
func TestSyncAsksOnlyRunsThatMoved(t *testing.T) {
	c := temporalStack(t)
	st, err := store.Open(filepath.Join(t.TempDir(), "sync.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	api := &API{Store: st, Temporal: c, TaskQueue: worker.TaskQueue, Catalog: activities.Catalog(), Scheduler: &Scheduler{Client: c, TaskQueue: worker.TaskQueue}}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	cl := apiClient{t, srv.URL}
	ann, _, _ := st.CreateToken("ann", []string{"admin"}, []string{"ops"})
	bob, _, _ := st.CreateToken("bob", []string{"approver"}, []string{"ops"})
	src := "apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: waits}\nspec:\n  steps:\n    - {id: gate, approval: {approvers: [\"group:ops\"]}}\n    - {id: done, action: log, with: {message: ok}}\n"
	cl.call("POST", "/api/v1/runbooks", ann, src, nil)
	var run struct{ ID string }
	if got := cl.call("POST", "/api/v1/runbooks/waits/runs", ann, "{}", &run); got != 201 {
		t.Fatalf("start: %d", got)
	}
	step := func() string {
		var r struct {
			Steps []struct{ ID, Status string }
		}
		cl.call("GET", "/api/v1/runs/"+run.ID, ann, nil, &r)
		return strings.Join([]string{r.Steps[0].Status, r.Steps[1].Status}, ",")
	}
	for deadline := time.Now().Add(30 * time.Second); step() != "waiting-approval,pending"; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the run never waited")
		}
	}
	// The GETs above asked the run; once its last workflow task is in the
	// history nothing new happens, so nothing asks it again, and the
	// syncer still writes what it shows.
	ctx := context.Background()
	for settled, deadline := false, time.Now().Add(10*time.Second); !settled; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the run kept being asked")
		}
		q := counted()
		api.SyncOnce(ctx)
		step()
		settled = counted() == q
	}
	q0 := counted()
	for range 3 {
		api.SyncOnce(ctx)
		step()
		cl.call("GET", "/api/v1/approvals", ann, nil, nil)
	}
	if q := counted() - q0; q != 0 {
		t.Errorf("three passes, views and lists of a waiting run sent %v queries, want none", q)
	}
	if steps, _ := st.Steps(run.ID); len(steps) != 2 || steps[0].Status != "waiting-approval" {
		t.Errorf("the records show %+v", steps)
	}
	if got := cl.call("POST", "/api/v1/runs/"+run.ID+"/approvals/gate", bob, map[string]any{"decision": "approve"}, nil); got != 200 {
		t.Fatalf("vote: %d", got)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		api.SyncOnce(ctx)
		if r, _ := st.Run(run.ID); r.Status == "succeeded" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the records never saw the run end")
		}
	}
	steps, err := st.Steps(run.ID)
	if err != nil || len(steps) != 2 || steps[1].Status != "succeeded" {
		t.Errorf("timeline in the records: %+v, %v", steps, err)
	}
}
