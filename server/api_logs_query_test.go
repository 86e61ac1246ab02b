package server

import (
	"fmt"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/runbooks"
	"github.com/opsrunbook/runbook/store"
)

const itemsOnlyRunbook = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: shaped}
spec:
  steps:
    - {id: migrate, sleep: 1s}
    - id: each
      forEach: "[1, 2]"
      steps:
        - id: inner
          steps:
            - {id: push, sleep: 1s}
`

// The logs routes refuse a bad query with every problem in its details,
// an item too large for a number, and an item of a step outside any
// forEach; the records alone answer these (no Temporal).
func TestLogsQueryIsChecked(t *testing.T) {
	eachStore(t, func(t *testing.T, st *store.Store) {
		p, _, err := runbooks.Build("shaped.yaml", []byte(itemsOnlyRunbook), runbooks.Options{Actions: activities.Catalog()})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.SaveRunbook(itemsOnlyRunbook, p, "root"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.CreateRun(&store.Run{ID: "shaped-1", Runbook: "shaped", Version: 1, Status: "running", Trigger: "api", TriggeredBy: "root",
			StartedBy: "root", CreatedAt: time.Now().UTC()}, nil); err != nil {
			t.Fatal(err)
		}
		viewer, _, _ := st.CreateToken("viewer", []string{"viewer"}, nil)
		srv := httptest.NewServer((&API{Store: st, Catalog: activities.Catalog()}).Handler())
		defer srv.Close()
		cl := apiClient{t, srv.URL}
		run := "/api/v1/runs/shaped-1"
		for path, want := range map[string]string{
			run + "/logs?since=abc&tail=x": `400 invalid logs query ["since: must be a whole number 0 or more, not \"abc\"" ` +
				`"tail: must be a whole number from 1 to 10000, not \"x\""]`,
			run + "/logs?sinse=3&limit=2&limit=3": `400 invalid logs query ["limit: given more than once" ` +
				`"sinse: unknown parameter (parameters: since, limit, tail, item, follow)"]`,
			run + "/logs?follow=yes&item=2": `400 invalid logs query ["follow: must be true or false, not \"yes\"" ` +
				`"item: needs a step: GET /api/v1/runs/:id/steps/:step/logs?item=N"]`,
			run + "/steps/push[99999999999999999999]/logs": `400 invalid logs query ["step: item 99999999999999999999 of push[99999999999999999999] must be a whole number from 0 to 2147483647"]`,
			run + "/steps/push[2]/logs?item=1":             `400 invalid logs query ["step: push[2] and item=1 name different items"]`,
			run + "/steps/a%5Bb/logs":                      `400 invalid logs query ["step: \"a[b\" is not a step id or step[item]"]`,
			run + "/steps/migrate[3]/logs":                 `404 step migrate of runbook shaped version 1 is not inside a forEach, so it has no items ["GET /api/v1/runs/shaped-1/steps/migrate/logs answers its lines"]`,
			run + "/steps/migrate/logs?item=0":             `404 step migrate of runbook shaped version 1 is not inside a forEach, so it has no items ["GET /api/v1/runs/shaped-1/steps/migrate/logs answers its lines"]`,
			run + "/steps/nope/logs":                       `404 runbook shaped version 1 has no step nope ["GET /api/v1/runs/shaped-1 lists the run's steps"]`,
		} {
			var pr Problem
			got := cl.call("GET", path, viewer, nil, &pr)
			if s := fmt.Sprintf("%d %s %q", got, pr.Error, pr.Details); s != want {
				t.Errorf("GET %s:\n got %s\nwant %s", path, s, want)
			}
		}
	})
}

// Only the steps inside a forEach, at any depth, have items.
func TestInForEach(t *testing.T) {
	p, _, err := runbooks.Build("shaped.yaml", []byte(itemsOnlyRunbook), runbooks.Options{Actions: activities.Catalog()})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, id := range []string{"migrate", "each", "inner", "push", "nope"} {
		got[id] = inForEach(p, id)
	}
	if want := map[string]bool{"migrate": false, "each": false, "inner": true, "push": true, "nope": false}; !reflect.DeepEqual(got, want) {
		t.Errorf("inForEach = %v, want %v", got, want)
	}
}
