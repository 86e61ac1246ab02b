package server

import (
	"path"
	"testing"

	"github.com/opsrunbook/runbook/store"
)

// GET /api/v1/schedules shows a schedule as Temporal runs it now: paused
// through the API, it lists paused though the runbook declares it running,
// and unpaused it lists running again.
func TestScheduleListShowsTheLivePausedState(t *testing.T) {
	c := temporalStack(t)
	eachStore(t, func(t *testing.T, st *store.Store) {
		a := newTrustAPI(t, c, st)
		name := "ticks-" + path.Base(t.Name())
		a.register(`apiVersion: runbook/v1
kind: Runbook
metadata: {name: `+name+`}
spec:
  schedules: [{name: daily, cron: "0 3 * * *"}]
  steps:
    - {id: tick, action: log, with: {message: tick}}
`, 201)
		paused := func() bool {
			t.Helper()
			var list struct{ Schedules []scheduleView }
			if got := a.call("GET", "/api/v1/schedules", a.viewer, nil, &list); got != 200 {
				t.Fatalf("list: %d", got)
			}
			for _, s := range list.Schedules {
				if s.Runbook == name {
					return s.Paused
				}
			}
			t.Fatalf("%s is not listed: %+v", name, list.Schedules)
			return false
		}
		if paused() {
			t.Errorf("listed paused before any pause")
		}
		if got := a.call("POST", "/api/v1/runbooks/"+name+"/schedules/daily/pause", a.ann, nil, nil); got != 202 {
			t.Fatalf("pause: %d", got)
		}
		if !paused() {
			t.Errorf("listed running after a pause")
		}
		if got := a.call("POST", "/api/v1/runbooks/"+name+"/schedules/daily/unpause", a.ann, nil, nil); got != 202 {
			t.Fatalf("unpause: %d", got)
		}
		if paused() {
			t.Errorf("listed paused after an unpause")
		}
	})
}
