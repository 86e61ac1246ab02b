package server

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/worker"
)

// Simultaneous starts with one concurrency key, on two API replicas
// sharing the records: exactly one run starts; with reject the others get
// 409, with attach they get that run.
func TestConcurrencyKeyHoldsAcrossReplicas(t *testing.T) {
	c := temporalStack(t)
	eachStore(t, func(t *testing.T, st *store.Store) {
		for _, policy := range []string{"reject", "attach"} {
			t.Run(policy, func(t *testing.T) {
				var urls []string
				for range 2 {
					api := &API{Store: st, Temporal: c, TaskQueue: worker.TaskQueue, Catalog: activities.Catalog(),
						Scheduler: &Scheduler{Client: c, TaskQueue: worker.TaskQueue}}
					srv := httptest.NewServer(api.Handler())
					defer srv.Close()
					urls = append(urls, srv.URL)
				}
				admin, _, _ := st.CreateToken("root", []string{"admin"}, nil)
				name := "one-at-a-time-" + policy
				src := fmt.Sprintf("apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: %s}\nspec:\n  concurrency: {key: \"'db-1'\", onConflict: %s}\n  steps:\n    - {id: hold, sleep: 1m}\n", name, policy)
				if got := (apiClient{t, urls[0]}).call("POST", "/api/v1/runbooks", admin, src, nil); got != 201 {
					t.Fatalf("register: %d", got)
				}
				const n = 12
				codes, ids := make([]int, n), make([]string, n)
				var wg sync.WaitGroup
				for i := range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						var r struct{ ID string }
						codes[i] = (apiClient{t, urls[i%2]}).call("POST", "/api/v1/runbooks/"+name+"/runs", admin, "{}", &r)
						ids[i] = r.ID
					}()
				}
				wg.Wait()
				started, others := "", 0
				for i, code := range codes {
					switch {
					case code == 201 && started == "":
						started = ids[i]
					case policy == "reject" && code == 409, policy == "attach" && code == 200:
						others++
					default:
						t.Errorf("start %d: %d (%s)", i, code, ids[i])
					}
				}
				if started == "" || others != n-1 {
					t.Errorf("codes %v", codes)
				}
				if policy == "attach" {
					for i, id := range ids {
						if id != started {
							t.Errorf("start %d attached to %s, not %s", i, id, started)
						}
					}
				}
				(apiClient{t, urls[0]}).call("POST", "/api/v1/runs/"+started+"/cancel", admin, nil, nil)
			})
		}
		// A record left holding the key by a start that never reached
		// Temporal (the API died in between) stops holding it after
		// StartGrace: the next start marks it failed and runs.
		admin, _, _ := st.CreateToken("root", []string{"admin"}, nil)
		api := &API{Store: st, Temporal: c, TaskQueue: worker.TaskQueue, Catalog: activities.Catalog(), Scheduler: &Scheduler{Client: c, TaskQueue: worker.TaskQueue}}
		srv := httptest.NewServer(api.Handler())
		defer srv.Close()
		cl := apiClient{t, srv.URL}
		src := "apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: orphaned}\nspec:\n  concurrency: {onConflict: reject}\n  steps:\n    - {id: a, sleep: 1s}\n"
		cl.call("POST", "/api/v1/runbooks", admin, src, nil)
		for _, age := range []time.Duration{time.Second, 2 * StartGrace} {
			id := fmt.Sprintf("orphaned-%d", age)
			if _, err := st.CreateRun(&store.Run{ID: id, Runbook: "orphaned", Version: 1, Status: "running", Trigger: "api", TriggeredBy: "root",
				ConcurrencyKey: "orphaned", CreatedAt: time.Now().UTC().Add(-age)}, nil); err != nil {
				t.Fatal(err)
			}
			got := cl.call("POST", "/api/v1/runbooks/orphaned/runs", admin, "{}", nil)
			if age < StartGrace && got != 409 || age > StartGrace && got != 201 {
				t.Errorf("a record %s old holds the key: start answered %d", age, got)
			}
			if age < StartGrace {
				st.FinishRun(id, "failed", "", "", nil, time.Now())
			}
		}
		if r, err := st.Run(fmt.Sprintf("orphaned-%d", 2*StartGrace)); err != nil || r.Status != "failed" || r.ErrorType != "NotStarted" {
			t.Errorf("the orphaned record: %+v, %v", r, err)
		}
		// Without a concurrency key, the records syncer finds such a
		// record and closes it; a young one it leaves alone.
		for _, id := range []string{"lost-old", "lost-young"} {
			at := time.Now().UTC()
			if id == "lost-old" {
				at = at.Add(-2 * StartGrace)
			}
			st.CreateRun(&store.Run{ID: id, Runbook: "orphaned", Version: 1, Status: "running", Trigger: "api", TriggeredBy: "root", CreatedAt: at}, nil)
		}
		api.SyncOnce(context.Background())
		old, _ := st.Run("lost-old")
		young, _ := st.Run("lost-young")
		if old.Status != "failed" || old.ErrorType != "NotStarted" || young.Status != "running" {
			t.Errorf("after a sync: %s %s, %s", old.Status, old.ErrorType, young.Status)
		}
	})
}
