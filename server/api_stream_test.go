package server

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/worker"
	"github.com/opsrunbook/runbook/workflows"
)

func TestEventStreamAndRecordsSync(t *testing.T) {
	c := temporalStack(t)
	st, err := store.Open(filepath.Join(t.TempDir(), "sse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	api := &API{Store: st, Temporal: c, TaskQueue: worker.TaskQueue, Catalog: activities.Catalog()}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	cl := apiClient{t, srv.URL}
	admin, _, _ := st.CreateToken("root", []string{"admin"}, nil)
	src := "apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: quick}\nspec:\n  steps:\n    - {id: one, action: shell, with: {command: [echo, hi]}}\n    - {id: pause, sleep: 1s}\n    - {id: two, action: log, with: {message: done}}\n"
	if got := cl.call("POST", "/api/v1/runbooks", admin, src, nil); got != 201 {
		t.Fatalf("register: %d", got)
	}
	var run runView
	if got := cl.call("POST", "/api/v1/runbooks/quick/runs", admin, map[string]any{}, &run); got != 201 {
		t.Fatalf("start: %d", got)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/runs/"+run.ID+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	var events []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "data: ") && len(events) > 0 {
			events[len(events)-1] += " " + line
		}
		if ev, ok := strings.CutPrefix(line, "event: "); ok {
			events = append(events, ev)
		}
	}
	joined := strings.Join(events, "\n")
	for _, want := range []string{`"id":"one"`, `"id":"pause","kind":"sleep","status":"running"`, `"id":"two"`, `run data: {"runId":"` + run.ID} {
		if !strings.Contains(joined, want) {
			t.Errorf("stream lacks %s:\n%s", want, joined)
		}
	}
	if !strings.HasPrefix(events[len(events)-1], "run") || !strings.Contains(events[len(events)-1], `"status":"succeeded"`) {
		t.Errorf("last event: %s", events[len(events)-1])
	}
	api.SyncOnce(context.Background())
	steps, _ := st.Steps(run.ID)
	rec, _ := st.Run(run.ID)
	if len(steps) != 3 || steps[2].Status != workflows.StatusSucceeded || rec.Status != workflows.RunSucceeded || rec.EndedAt == nil || rec.Recorded != 3 {
		t.Fatalf("records: %+v, run %+v", steps, rec)
	}
	// The records' times are the workflow's, as the stream sent them.
	var pause stepEvent
	for _, e := range events {
		if data, ok := strings.CutPrefix(e, `step data: `); ok && strings.Contains(data, `"id":"pause","kind":"sleep","status":"succeeded"`) {
			if err := json.Unmarshal([]byte(data), &pause); err != nil {
				t.Fatal(err)
			}
		}
	}
	if pause.StartedAt == nil || pause.EndedAt == nil || pause.At == nil || !pause.At.Equal(*pause.EndedAt) {
		t.Fatalf("pause's step event: %+v", pause)
	}
	if got, want := steps[1].EndedAt.UTC(), pause.EndedAt.Truncate(time.Microsecond); !got.Equal(want) || steps[1].EndedAt.Sub(*steps[1].StartedAt) < time.Second {
		t.Errorf("pause's record ended %v (started %v), the workflow says %v", got, steps[1].StartedAt, want)
	}
}
