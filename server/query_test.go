package server

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/store"
)

// Every /api/ route refuses a query parameter it does not take, or one
// given twice, instead of answering as if there were none; probes and
// hooks take what their callers add.
func TestUnknownQueryIsRefused(t *testing.T) {
	eachStore(t, func(t *testing.T, st *store.Store) {
		if _, err := st.CreateRun(&store.Run{ID: "q-1", Runbook: "q", Version: 1, Status: "succeeded", Trigger: "api", TriggeredBy: "root",
			StartedBy: "root", CreatedAt: time.Now().UTC()}, nil); err != nil {
			t.Fatal(err)
		}
		viewer, _, _ := st.CreateToken("viewer", []string{"viewer"}, nil)
		srv := httptest.NewServer((&API{Store: st, Catalog: activities.Catalog()}).Handler())
		defer srv.Close()
		cl := apiClient{t, srv.URL}
		for path, want := range map[string]string{
			"/api/v1/runs?stauts=failed":         `400 unknown query parameter ["stauts: unknown parameter (parameters: runbook, status, trigger, since, until, limit, cursor)"]`,
			"/api/v1/runs?runbook=a&runbook=b":   `400 unknown query parameter ["runbook: given more than once"]`,
			"/api/v1/runs/q-1?bogus=1":           `400 unknown query parameter ["bogus: unknown parameter (parameters: stepsOffset, stepsLimit)"]`,
			"/api/v1/runbooks/q?versoin=2":       `400 unknown query parameter ["versoin: unknown parameter (parameters: version)"]`,
			"/api/v1/approvals?mine=true&me=1":   `400 unknown query parameter ["me: unknown parameter (parameters: mine)"]`,
			"/api/v1/schedules?runbook=q":        `400 /api/v1/schedules takes no query parameters ["runbook: unknown parameter"]`,
			"/api/v1/runs/q-1/events?since=3":    `400 /api/v1/runs/:id/events takes no query parameters ["since: unknown parameter"]`,
			"/api/v1/runs?status=failed&limit=5": `200  []`,
			"/healthz?probe=lb":                  `200  []`,
		} {
			var pr Problem
			got := cl.call("GET", path, viewer, nil, &pr)
			if s := fmt.Sprintf("%d %s %q", got, pr.Error, pr.Details); s != want {
				t.Errorf("GET %s:\n got %s\nwant %s", path, s, want)
			}
		}
	})
}
