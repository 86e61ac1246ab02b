package server

import (
	"bufio"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/devserver/devtest"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/workflows"
)

const inspected = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: inspected}
spec:
  params: [{name: ticket, type: string, default: CHG-1}]
  steps:
    - id: reserve
      action: log
      with: {message: reserve}
      compensate: {action: log, with: {message: release}}
    - id: change_board
      approval: {approvers: ["group:board"]}
    - {id: apply, action: log, with: {message: apply}}
    - {id: maybe, if: "false", action: log, with: {message: never}}
  finally:
    - {id: bye, action: log, with: {message: bye}}
`

// TestRunInspection: a rejected run shows who rejected it and why, its
// version's hash, its failed step, the step that never ran as not-reached,
// its compensation and finally with their times; once ended it is read
// from the records, never from Temporal; its event stream stamps each
// transition and sends them in the order they happened; the runs list
// checks its filters.
func TestRunInspection(t *testing.T) {
	c := temporalStack(t)
	eachStore(t, func(t *testing.T, st *store.Store) {
		a := newTrustAPI(t, c, st)
		a.register(inspected, 201)
		var rb struct {
			Hash string `json:"hash"`
		}
		a.call("GET", "/api/v1/runbooks/inspected", a.viewer, nil, &rb)
		var run runView
		if got := a.call("POST", "/api/v1/runbooks/inspected/runs", a.ann, map[string]any{"params": map[string]any{"ticket": "CHG-7"}}, &run); got != 201 {
			t.Fatalf("start: %d", got)
		}
		if run.VersionHash != rb.Hash || rb.Hash == "" {
			t.Errorf("started run's versionHash %q, want %q", run.VersionHash, rb.Hash)
		}
		waitFor(t, func() bool {
			var v runView
			a.call("GET", "/api/v1/runs/"+run.ID, a.viewer, nil, &v)
			return stepOfView(v, "change_board") == workflows.StatusWaitingApproval
		})
		live := make(chan []sseEvent, 1)
		go func() { live <- streamOf(t, a, run.ID) }()
		time.Sleep(StreamEvery) // the stream has seen the run waiting
		if got := a.call("POST", "/api/v1/runs/"+run.ID+"/approvals/change_board", a.bob, map[string]any{"decision": "reject", "comment": "freeze week"}, nil); got != 200 {
			t.Fatalf("reject: %d", got)
		}
		// Followed live, the failure comes before the compensation it
		// caused, each stamped with when it happened.
		if got, want := stepOrder(t, <-live), "apply:pending maybe:pending bye:pending reserve:succeeded change_board:waiting-approval "+
			"change_board:failed reserve:compensated bye:succeeded apply:not-reached maybe:not-reached"; got != want {
			t.Errorf("live stream order:\n %s\nwant\n %s", got, want)
		}
		const wantErr = `approval "change_board" rejected by bob: freeze week`
		var v runView
		waitFor(t, func() bool {
			v = runView{}
			a.call("GET", "/api/v1/runs/"+run.ID, a.viewer, nil, &v)
			return v.Status != workflows.RunRunning
		})
		check := func(how string, v runView) {
			t.Helper()
			if v.Status != workflows.RunFailed || v.Error != wantErr || v.ErrorType != workflows.ErrApprovalReject || v.FailedStep != "change_board" ||
				v.VersionHash != rb.Hash || v.Params["ticket"] != "CHG-7" || v.StartedBy != "ann" || v.TriggeredBy != "ann" || v.Trigger != "api" || v.EndedAt == nil {
				t.Fatalf("%s: %+v", how, v)
			}
			want := map[string]string{"reserve": "compensated", "change_board": "failed", "apply": "not-reached", "maybe": "not-reached", "bye": "succeeded"}
			if len(v.Steps) != len(want) || v.StepsTotal != len(want) {
				t.Fatalf("%s: %d entries of %d: %+v", how, len(v.Steps), v.StepsTotal, v.Steps)
			}
			byID := map[string]workflows.StepState{}
			for _, s := range v.Steps {
				byID[s.ID] = s
				if s.Status != want[s.ID] {
					t.Errorf("%s: %s is %s, want %s", how, s.ID, s.Status, want[s.ID])
				}
			}
			gate, reserve, bye := byID["change_board"], byID["reserve"], byID["bye"]
			if gate.Error != wantErr || len(gate.Votes) != 1 || gate.Votes[0].User != "bob" || gate.Votes[0].Comment != "freeze week" || gate.EndedAt == nil {
				t.Errorf("%s: gate %+v", how, gate)
			}
			if reserve.CompensationStartedAt == nil || reserve.CompensationEndedAt == nil || reserve.CompensationStartedAt.Before(*gate.EndedAt) {
				t.Errorf("%s: reserve's undo at %v to %v, gate failed at %v", how, reserve.CompensationStartedAt, reserve.CompensationEndedAt, gate.EndedAt)
			}
			if bye.Phase != workflows.PhaseFinally || bye.StartedAt == nil || bye.StartedAt.Before(*reserve.CompensationEndedAt) {
				t.Errorf("%s: bye started %v, reserve's undo %v to %v, gate ended %v", how, bye.StartedAt, reserve.CompensationStartedAt, reserve.CompensationEndedAt, gate.EndedAt)
			}
		}
		check("the first view of the ended run", v)
		if strings.HasSuffix(t.Name(), "sqlite") { // a history with the rejection's comment, skip times, compensation times
			devtest.RecordHistory(t, filepath.Join("..", "workflows", "testdata", "histories", "TestRunInspection-inspected"), devtest.HistoryJSON(t, c, run.ID), run.ID)
		}

		// Recorded: every later view reads the records.
		rec, err := st.Run(run.ID)
		if err != nil || rec.Recorded != 5 || rec.FailedStep != "change_board" || rec.Status != workflows.RunFailed || rec.EndedAt == nil || !rec.EndedAt.Equal(*v.EndedAt) {
			t.Fatalf("record: %+v %v", rec, err)
		}
		steps, _ := st.Steps(run.ID)
		if len(steps) != 5 || steps[2].StepID != "apply" || steps[2].Status != workflows.StatusNotReached {
			t.Errorf("step records: %+v", steps)
		}
		queries := counted()
		for range 3 {
			v = runView{}
			a.call("GET", "/api/v1/runs/"+run.ID, a.viewer, nil, &v)
			check("a view from the records", v)
		}
		var page runView
		a.call("GET", "/api/v1/runs/"+run.ID+"?stepsOffset=3&stepsLimit=1", a.viewer, nil, &page)
		if len(page.Steps) != 1 || page.Steps[0].ID != "maybe" || page.StepsOffset != 3 || page.StepsTotal != 5 {
			t.Errorf("a page from the records: %+v", page)
		}
		events := streamOf(t, a, run.ID)
		if got := counted(); got != queries {
			t.Errorf("%v status queries for views and a stream of a recorded run", got-queries)
		}

		// The stream of the ended run, from the records: each entry once,
		// stamped, in the order they happened.
		if got, want := stepOrder(t, events), "change_board:failed reserve:compensated bye:succeeded apply:not-reached maybe:not-reached"; got != want {
			t.Errorf("stream order: %s (want %s)", got, want)
		}
		if len(events) == 0 || events[len(events)-1].name != "run" || !strings.Contains(events[len(events)-1].data, `"failedStep":"change_board"`) {
			t.Errorf("last event: %+v", events)
		}

		// The list, as /openapi.json says it.
		op := OpenAPI()["paths"].(map[string]any)["/api/v1/runs"].(map[string]any)["get"].(map[string]any)
		params := map[string]map[string]any{}
		for _, p := range op["parameters"].([]any) {
			params[p.(map[string]any)["name"].(string)] = p.(map[string]any)["schema"].(map[string]any)
		}
		if s := params["limit"]; s["maximum"] != MaxRunsLimit || s["default"] != DefaultRunsLimit || !strings.Contains(op["summary"].(string), "limit: 1 to 500, default 50") {
			t.Errorf("openapi limit: %v; %s", s, op["summary"])
		}
		if s := params["status"]; strings.Join(s["enum"].([]string), ",") != "running,waiting_decision,succeeded,failed,cancelled" || params["since"]["format"] != "date-time" {
			t.Errorf("openapi status, since: %v %v", s, params["since"])
		}
		var list struct {
			Runs []map[string]any `json:"runs"`
			Next string           `json:"next"`
		}
		if got := a.call("GET", "/api/v1/runs?runbook=inspected&limit=1", a.viewer, nil, &list); got != 200 || len(list.Runs) != 1 {
			t.Fatalf("list: %d %+v", got, list)
		}
		item := list.Runs[0]
		if item["versionHash"] != rb.Hash || item["failedStep"] != "change_board" || item["error"] != wantErr || item["errorType"] != workflows.ErrApprovalReject ||
			item["params"].(map[string]any)["ticket"] != "CHG-7" || item["startedBy"] != "ann" || item["trigger"] != "api" || item["steps"] != nil {
			t.Errorf("list item: %v", item)
		}
		for query, want := range map[string]string{
			"status=done":                "status must be one of running, waiting_decision, succeeded, failed, cancelled",
			"limit=0":                    "limit must be a whole number from 1 to 500",
			"limit=501":                  "limit must be a whole number from 1 to 500",
			"limit=ten":                  "limit must be a whole number from 1 to 500",
			"since=yesterday":            "since must be an RFC 3339 time, such as 2026-12-01T09:00:00Z",
			"until=2026-13-01T00:00:00Z": "until must be an RFC 3339 time, such as 2026-12-01T09:00:00Z",
			"since=2026-12-02T00:00:00Z&until=2026-12-01T00:00:00Z": "since must be before until",
		} {
			var p Problem
			if got := a.call("GET", "/api/v1/runs?"+query, a.viewer, nil, &p); got != 400 || p.Error != want {
				t.Errorf("%s: %d %q, want 400 %q", query, got, p.Error, want)
			}
			if query == "status=done" && (len(p.Details) != 5 || p.Details[0] != "running" || p.Details[1] != "waiting_decision" || p.Details[4] != "cancelled") {
				t.Errorf("status details: %v", p.Details)
			}
		}
	})
}

type sseEvent struct{ name, data string }

// stepOrder lists a stream's step events as step:status, checking each
// has an at no earlier than the one before.
func stepOrder(t *testing.T, events []sseEvent) string {
	t.Helper()
	var order []string
	var last time.Time
	for _, e := range events {
		if e.name != "step" {
			continue
		}
		var s stepEvent
		if err := json.Unmarshal([]byte(e.data), &s); err != nil || s.At == nil {
			t.Fatalf("step event without at: %s", e.data)
		}
		if s.At.Before(last) {
			t.Errorf("%s at %v, after an event at %v", s.ID, s.At, last)
		}
		last = *s.At
		order = append(order, s.ID+":"+s.Status)
	}
	return strings.Join(order, " ")
}

// streamOf reads a run's event stream to its end.
func streamOf(t *testing.T, a *trustAPI, run string) []sseEvent {
	t.Helper()
	req, _ := http.NewRequest("GET", a.url+"/api/v1/runs/"+run+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+a.viewer)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []sseEvent
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if ev, ok := strings.CutPrefix(line, "event: "); ok {
			out = append(out, sseEvent{name: ev})
		}
		if d, ok := strings.CutPrefix(line, "data: "); ok && len(out) > 0 {
			out[len(out)-1].data = d
		}
	}
	return out
}
