package server

import (
	"net/http/httptest"
	"testing"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/worker"
	"github.com/opsrunbook/runbook/workflows"
)

const clockRunbook = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: clock}
spec:
  concurrency: {key: "string(run.startedAt)", onConflict: reject}
  steps:
    - {id: note, action: log, with: {message: started}}
  outputs: {started_at: string(run.startedAt)}
`

// The run's expressions read the run.startedAt its concurrency key was
// computed with: the time the API recorded the run, not the later time
// Temporal started the workflow.
func TestRunStartedAtIsTheConcurrencyKeys(t *testing.T) {
	c := temporalStack(t)
	eachStore(t, func(t *testing.T, st *store.Store) {
		api := &API{Store: st, Temporal: c, TaskQueue: worker.TaskQueue, Catalog: activities.Catalog(),
			Scheduler: &Scheduler{Client: c, TaskQueue: worker.TaskQueue}}
		srv := httptest.NewServer(api.Handler())
		defer srv.Close()
		cl := apiClient{t, srv.URL}
		admin, _, _ := st.CreateToken("root", []string{"admin"}, nil)
		if got := cl.call("POST", "/api/v1/runbooks", admin, clockRunbook, nil); got != 201 {
			t.Fatalf("register: %d", got)
		}
		var run runView
		if got := cl.call("POST", "/api/v1/runbooks/clock/runs", admin, "{}", &run); got != 201 {
			t.Fatalf("start: %d", got)
		}
		var done runView
		waitFor(t, func() bool {
			cl.call("GET", "/api/v1/runs/"+run.ID, admin, nil, &done)
			return done.Status != workflows.RunRunning
		})
		rec, err := st.Run(run.ID)
		if err != nil {
			t.Fatal(err)
		}
		if done.Status != workflows.RunSucceeded || done.Outputs["started_at"] != rec.ConcurrencyKey {
			t.Errorf("run %s: run.startedAt %v, its concurrency key %q", done.Status, done.Outputs["started_at"], rec.ConcurrencyKey)
		}
	})
}
