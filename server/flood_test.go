package server

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/worker"
	"github.com/opsrunbook/runbook/workflows"
)

const flooded = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: flooded}
spec:
  steps:
    - {id: first, waitFor: {event: go, timeout: 10m}}
    - {id: second, waitFor: {event: later, timeout: 10m}}
  finally:
    - {id: bye, action: log, with: {message: "${{ string(steps.second.outputs.payload.n) }}"}}
`

func TestRunsCannotBeFlooded(t *testing.T) {
	c := temporalStack(t)
	eachStore(t, func(t *testing.T, st *store.Store) {
		a := newTrustAPI(t, c, st)
		api := &API{Store: st, Temporal: c, TaskQueue: worker.TaskQueue, Catalog: activities.Catalog()}
		t.Run("a flood of events", func(t *testing.T) { eventFlood(t, a) })
		t.Run("a run Temporal terminated", func(t *testing.T) { terminatedRun(t, a, api) })
		t.Run("a run Temporal timed out", func(t *testing.T) { timedOutRun(t, a, api) })
		t.Run("oversized votes and params", func(t *testing.T) { oversized(t, a) })
	})
}

// eventFlood posts the flood of the issue (52 events of 1 MB to a name no
// step waits for), then events of a name a later step waits for past the
// cap: every one is refused cheaply, the run takes what it needs, ends,
// and runs its finally.
func eventFlood(t *testing.T, a *trustAPI) {
	a.register(flooded, 201)
	var run runView
	if got := a.call("POST", "/api/v1/runbooks/flooded/runs", a.ann, map[string]any{}, &run); got != 201 {
		t.Fatalf("start: %d", got)
	}
	mb := map[string]any{"payload": map[string]any{"x": strings.Repeat("x", 950_000)}}
	for i := range 52 {
		if got := a.call("POST", "/api/v1/runs/"+run.ID+"/events/anything", a.ann, mb, nil); got != 404 {
			t.Fatalf("1 MB event #%d to a name no step waits for: %d, want 404", i, got)
		}
	}
	var p Problem
	big := map[string]any{"payload": map[string]any{"x": strings.Repeat("x", MaxEventPayload)}}
	if got := a.call("POST", "/api/v1/runs/"+run.ID+"/events/later", a.ann, big, &p); got != 413 || !strings.HasPrefix(p.Error, "payload is 65544 bytes; at most 65536") {
		t.Errorf("a payload over the cap: %d %+v, want 413", got, p)
	}
	for i := range workflows.MaxBufferedEvents {
		if got := a.call("POST", "/api/v1/runs/"+run.ID+"/events/later", a.ann, map[string]any{"payload": map[string]any{"n": i}}, nil); got != 202 {
			t.Fatalf("later #%d: %d, want 202", i, got)
		}
	}
	p = Problem{}
	if got := a.call("POST", "/api/v1/runs/"+run.ID+"/events/later", a.ann, map[string]any{"payload": map[string]any{"n": 99}}, &p); got != 429 ||
		p.Error != "the run holds 16 later events no step has taken; at most 16" {
		t.Errorf("an event past the buffer cap: %d %+v, want 429", got, p)
	}
	if got := a.call("POST", "/api/v1/runs/"+run.ID+"/events/go", a.ann, map[string]any{}, nil); got != 202 {
		t.Fatalf("go: %d, want 202", got)
	}
	var v runView
	waitFor(t, func() bool {
		a.call("GET", "/api/v1/runs/"+run.ID, a.viewer, nil, &v)
		return v.Status != workflows.RunRunning
	})
	if v.Status != workflows.RunSucceeded || len(v.Steps) != 3 || v.Steps[2].ID != "bye" || v.Steps[2].Status != workflows.StatusSucceeded {
		t.Errorf("after the flood: %s %+v", v.Status, v.Steps)
	}
	if got := v.Steps[1].Outputs["payload"]; got == nil || got.(map[string]any)["n"] != 0.0 {
		t.Errorf("second took %v, want the first buffered event", got)
	}
}

// terminatedRun: a run terminated in Temporal is recorded failed with the
// reason, and neither the syncer, the run view, the approvals list nor the
// event stream asks it (a replay would say running) once it is closed.
func terminatedRun(t *testing.T, a *trustAPI, api *API) {
	var run runView
	if got := a.call("POST", "/api/v1/runbooks/gated/runs", a.ann, map[string]any{}, &run); got != 201 {
		t.Fatalf("start: %d", got)
	}
	a.waiting(run.ID)
	ctx := context.Background()
	api.SyncOnce(ctx)
	if err := a.c.TerminateWorkflow(ctx, run.ID, "", "history too large"); err != nil {
		t.Fatal(err)
	}
	q0 := counted()
	api.SyncOnce(ctx)
	rec, err := a.st.Run(run.ID)
	if err != nil || rec.Status != workflows.RunFailed || rec.ErrorType != ErrTerminated || rec.Error != "the run was terminated in Temporal: history too large" || rec.EndedAt == nil {
		t.Fatalf("the record: %+v %v", rec, err)
	}
	var v runView
	a.call("GET", "/api/v1/runs/"+run.ID, a.viewer, nil, &v)
	if v.Status != workflows.RunFailed || v.ErrorType != ErrTerminated || len(v.Steps) != 1 || v.Steps[0].Status != workflows.StatusWaitingApproval {
		t.Errorf("the run view: %s %s %+v, want failed, Terminated, the recorded timeline", v.Status, v.ErrorType, v.Steps)
	}
	var list struct{ Approvals []pendingApproval }
	a.call("GET", "/api/v1/approvals", a.viewer, nil, &list)
	for _, p := range list.Approvals {
		if p.Run == run.ID {
			t.Errorf("the terminated run's approval is listed: %+v", p)
		}
	}
	if ev := lastStreamEvent(t, a, run.ID); !strings.Contains(ev, `"status":"failed"`) || !strings.Contains(ev, `"errorType":"Terminated"`) {
		t.Errorf("the stream ended with %s", ev)
	}
	api.SyncOnce(ctx)
	if q := counted() - q0; q != 0 {
		t.Errorf("reads of the terminated run sent %v status queries, want none", q)
	}
}

// timedOutRun: a run past a Temporal execution timeout (one the engine
// never sets; a run started around it) is recorded failed, TimedOut.
func timedOutRun(t *testing.T, a *trustAPI, api *API) {
	v, err := a.st.Runbook("gated", 0)
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.PlanOf()
	if err != nil {
		t.Fatal(err)
	}
	params, _ := p.BindParams(nil)
	rec := &store.Run{ID: newRunID("gated", time.Now()), Runbook: "gated", Version: v.Version, Status: workflows.RunRunning,
		Trigger: "api", TriggeredBy: "ann", StartedBy: "ann", CreatedAt: time.Now().UTC()}
	if _, err := a.st.CreateRun(rec, params); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	wr, err := a.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: rec.ID, TaskQueue: worker.TaskQueue, WorkflowExecutionTimeout: time.Second},
		workflows.WorkflowName, workflows.RunInput{Plan: p, Params: params, Trigger: "api", TriggeredBy: "ann", StartedBy: "ann", Version: v.Version})
	if err != nil {
		t.Fatal(err)
	}
	_ = wr.Get(ctx, nil)
	q0 := counted()
	api.SyncOnce(ctx)
	got, err := a.st.Run(rec.ID)
	if err != nil || got.Status != workflows.RunFailed || got.ErrorType != ErrTimedOut || got.Error != "the run passed its Temporal execution timeout" {
		t.Fatalf("the record: %+v %v", got, err)
	}
	if q := counted() - q0; q != 0 {
		t.Errorf("the timed-out run was asked %v times", q)
	}
}

// lastStreamEvent follows run's event stream to its end.
func lastStreamEvent(t *testing.T, a *trustAPI, run string) string {
	req, _ := http.NewRequest("GET", a.url+"/api/v1/runs/"+run+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+a.viewer)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	last := ""
	for sc := bufio.NewScanner(resp.Body); sc.Scan(); {
		if line := sc.Text(); line != "" {
			last = line
		}
	}
	return last
}

// oversized: a vote's comment and inputs, and a run's params, past their
// caps are refused with 413 before anything is recorded or sent.
func oversized(t *testing.T, a *trustAPI) {
	var run runView
	if got := a.call("POST", "/api/v1/runbooks/gated/runs", a.ann, map[string]any{}, &run); got != 201 {
		t.Fatalf("start: %d", got)
	}
	a.waiting(run.ID)
	cases := []struct {
		name, path string
		body       any
		want       string
	}{
		{"a long comment", "/api/v1/runs/" + run.ID + "/approvals/board", map[string]any{"decision": "approve", "comment": strings.Repeat("c", MaxComment+1)},
			"comment is 4097 bytes; at most 4096"},
		{"large inputs", "/api/v1/runs/" + run.ID + "/approvals/board", map[string]any{"decision": "approve", "inputs": map[string]any{"x": strings.Repeat("i", MaxVoteInputs)}},
			"inputs is 65544 bytes; at most 65536"},
	}
	for _, c := range cases {
		var p Problem
		if got := a.call("POST", c.path, a.bob, c.body, &p); got != 413 || p.Error != c.want || len(p.Details) != 1 {
			t.Errorf("%s: %d %+v, want 413 %q", c.name, got, p, c.want)
		}
	}
	if votes, _ := a.st.Votes(run.ID); len(votes) != 0 {
		t.Errorf("refused votes were recorded: %+v", votes)
	}
	if got := a.vote(a.bob, run.ID); got != 200 {
		t.Errorf("a vote after the refused ones: %d", got)
	}
	a.register(`apiVersion: runbook/v1
kind: Runbook
metadata: {name: listy}
spec:
  params: [{name: items, type: list}]
  steps:
    - {id: hi, action: log, with: {message: hi}}
`, 201)
	items := make([]any, 0, 30000)
	for range cap(items) {
		items = append(items, "0123456789")
	}
	var p Problem
	if got := a.call("POST", "/api/v1/runbooks/listy/runs", a.ann, map[string]any{"params": map[string]any{"items": items}}, &p); got != 413 ||
		!strings.HasPrefix(p.Error, "params is ") || !strings.HasSuffix(p.Error, "bytes; at most 262144") {
		t.Errorf("params over the cap: %d %+v", got, p)
	}
}
