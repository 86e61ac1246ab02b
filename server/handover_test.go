package server

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/devserver/devtest"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/worker"
	"github.com/opsrunbook/runbook/workflows"
)

// long approves, reserves, loops over 40 items (each undoable), polls 12
// times, waits for an event posted long before, asks a second approval
// and fails, so that compensation and finally run after the hand-overs.
const long = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: long}
spec:
  params: [{name: counter, type: string, required: true}]
  steps:
    - id: board
      approval: {approvers: ["group:board"]}
    - id: reserve
      action: log
      with: {message: reserve}
      compensate: {action: log, with: {message: release}}
    - id: stage
      steps:
        - id: fan
          forEach: "lists.range(40)"
          as: i
          maxConcurrency: 4
          steps:
            - id: one
              action: log
              with: {message: "item ${{ i }}"}
              compensate: {action: log, with: {message: "undo ${{ i }}"}}
            - {id: two, action: shell, with: {command: [echo, "${{ string(i) }}"]}}
    - id: poll
      action: shell
      with: {command: [sh, -c, "n=$(cat \"$0\" 2>/dev/null || echo 0); n=$((n+1)); echo $n > \"$0\"; printf %s $n", "${{ params.counter }}"]}
      repeat: {until: "outputs.stdout == '12'", every: 100ms, timeout: 5m}
    - {id: ready, waitFor: {event: go, timeout: 5m}}
    - id: confirm
      approval: {approvers: ["group:board"]}
    - id: boom
      assert: {that: "steps.fan.outputs.succeeded == 41", message: "${{ steps.fan.outputs.succeeded }} items and ${{ steps.ready.outputs.payload.n }}"}
  finally:
    - {id: bye, action: log, with: {message: bye}}
`

// TestLongLoopsHandOver runs long with a budget of 80 events an
// execution: the forEach and the repeat hand over several times, and the
// run keeps its id, its timeline (read in pages), its approvals, its
// event, its compensations and its finally.
func TestLongLoopsHandOver(t *testing.T) {
	c := temporalStack(t)
	st, err := store.Open(filepath.Join(t.TempDir(), "api.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a := newTrustAPI(t, c, st)
	api := &API{Store: st, Temporal: c, TaskQueue: worker.TaskQueue, Catalog: activities.Catalog(), HistoryBudget: 80}
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	a.apiClient = apiClient{t, srv.URL}
	a.register(long, 201)

	var run runView
	if got := a.call("POST", "/api/v1/runbooks/long/runs", a.ann, map[string]any{"params": map[string]any{"counter": filepath.Join(t.TempDir(), "n")}}, &run); got != 201 {
		t.Fatalf("start: %d", got)
	}
	get := func(query string) runView {
		var v runView
		a.call("GET", "/api/v1/runs/"+run.ID+query, a.viewer, nil, &v)
		return v
	}
	waitFor(t, func() bool {
		v := get("")
		return len(v.Steps) > 0 && v.Steps[0].Status == workflows.StatusWaitingApproval
	})
	if got := a.vote(a.bob, run.ID); got != 200 {
		t.Fatalf("vote before the hand-overs: %d", got)
	}
	if got := a.call("POST", "/api/v1/runs/"+run.ID+"/events/go", a.ann, map[string]any{"payload": map[string]any{"n": "event kept"}}, nil); got != 202 {
		t.Fatalf("event: %d", got)
	}
	waitFor(t, func() bool {
		return stepOfView(get("?stepsOffset=0&stepsLimit=2000"), "confirm") == workflows.StatusWaitingApproval
	})
	if v := get(""); v.Handovers < 3 || v.ID != run.ID {
		t.Fatalf("at confirm: %d hand-overs, id %s", v.Handovers, v.ID)
	}
	if got := a.vote(a.bob, run.ID); got != 200 {
		t.Errorf("bob's vote on board again after the hand-overs: %d, want 200 (the same vote answers as before)", got)
	}
	if got := a.vote(a.am, run.ID); got != 409 {
		t.Errorf("another vote on board after the hand-overs: %d, want 409 (not waiting)", got)
	}
	if got := a.call("POST", "/api/v1/runs/"+run.ID+"/approvals/confirm", a.bob, map[string]any{"decision": "approve"}, nil); got != 200 {
		t.Fatalf("vote after the hand-overs: %d", got)
	}
	waitFor(t, func() bool { return get("").Status != workflows.RunRunning })

	// The whole timeline, 25 entries a page.
	var steps []workflows.StepState
	var v runView
	for off := 0; ; off += 25 {
		v = get(fmt.Sprintf("?stepsOffset=%d&stepsLimit=25", off))
		if v.StepsOffset != off || len(v.Steps) > 25 {
			t.Fatalf("page at %d: offset %d, %d entries", off, v.StepsOffset, len(v.Steps))
		}
		steps = append(steps, v.Steps...)
		if off+25 >= v.StepsTotal {
			break
		}
	}
	if v.Status != workflows.RunFailed || v.ErrorType != workflows.ErrAssertion || v.Error != "40 items and event kept" {
		t.Fatalf("run: %s %s %q", v.Status, v.ErrorType, v.Error)
	}
	// board, reserve, stage, fan, poll, ready, confirm, boom, bye; 80 item entries.
	if len(steps) != 89 || v.StepsTotal != 89 {
		t.Fatalf("timeline: %d entries of %d", len(steps), v.StepsTotal)
	}
	want := map[string]string{"board": "succeeded", "reserve": "compensated", "stage": "succeeded", "fan": "succeeded",
		"poll": "succeeded", "ready": "succeeded", "confirm": "succeeded", "boom": "failed", "bye": "succeeded",
		"one": "compensated", "two": "succeeded"}
	items := map[string]int{}
	for _, s := range steps {
		if s.Status != want[s.ID] || s.CompensationError != "" {
			t.Errorf("%s[%v]: %s %q", s.ID, s.Item, s.Status, s.CompensationError)
		}
		if s.Item != nil {
			items[s.ID]++
		}
		if s.ID == "poll" && s.Attempts != 12 {
			t.Errorf("poll attempts: %d, want 12", s.Attempts)
		}
		if s.ID == "board" && (len(s.Votes) != 1 || s.Votes[0].User != "bob") {
			t.Errorf("board votes: %+v", s.Votes)
		}
	}
	if items["one"] != 40 || items["two"] != 40 {
		t.Errorf("item entries: %v", items)
	}
	executions := executionsOf(t, c, run.ID)
	if len(executions) < 4 || len(executions) != v.Handovers+1 {
		t.Fatalf("%d executions, %d hand-overs", len(executions), v.Handovers)
	}
	devtest.RecordHistory(t, filepath.Join("..", "workflows", "testdata", "histories", "TestLongLoopsHandOver-first"),
		devtest.ExecutionHistoryJSON(t, c, run.ID, executions[0]), run.ID)
	// The run ended by handing its final state to a last short execution,
	// which a read of the closed run replays.
	if n := historyLength(t, c, run.ID, executions[len(executions)-1]); n > 10 {
		t.Errorf("the last execution has %d events", n)
	}
	for i, name := range map[int]string{len(executions) - 2: "end", len(executions) - 1: "closed"} {
		devtest.RecordHistory(t, filepath.Join("..", "workflows", "testdata", "histories", "TestLongLoopsHandOver-"+name),
			devtest.ExecutionHistoryJSON(t, c, run.ID, executions[i]), run.ID)
	}
}

func historyLength(t *testing.T, c client.Client, id, execution string) int {
	t.Helper()
	n := 0
	it := c.GetWorkflowHistory(context.Background(), id, execution, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		if _, err := it.Next(); err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

func stepOfView(v runView, id string) string {
	for _, s := range v.Steps {
		if s.ID == id {
			return s.Status
		}
	}
	return ""
}

// executionsOf lists the executions of a run, first to last, following
// each execution back to the one it continued.
func executionsOf(t *testing.T, c client.Client, id string) []string {
	t.Helper()
	d, err := c.DescribeWorkflowExecution(context.Background(), id, "")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for exec := d.WorkflowExecutionInfo.Execution.RunId; exec != ""; {
		out = append([]string{exec}, out...)
		it := c.GetWorkflowHistory(context.Background(), id, exec, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		exec = e.GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId()
		if len(out) > 1000 {
			t.Fatal(strings.Join(out, " "))
		}
	}
	return out
}
