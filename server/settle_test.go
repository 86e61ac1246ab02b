package server

import (
	"context"
	"database/sql"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/worker"
	"github.com/opsrunbook/runbook/workflows"
)

// voteEntries is the run's approval.vote entries as summaries, newest
// first.
func (a *trustAPI) voteEntries(run string) []string {
	var lines []string
	for _, e := range a.audit(a.viewer, "action=approval.vote&run="+run).Entries {
		lines = append(lines, summary(e))
	}
	return lines
}

// leavingClient is the real client with a caller that hangs up once the
// run has accepted its vote, before the run's answer.
type leavingClient struct {
	client.Client
	leave context.CancelFunc
}

func (c leavingClient) UpdateWorkflow(ctx context.Context, o client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	o.WaitForStage = client.WorkflowUpdateStageAccepted
	h, err := c.Client.UpdateWorkflow(ctx, o)
	c.leave()
	if err != nil {
		return nil, err
	}
	// The handle that polls for the answer, as the SDK's is while the run
	// has not answered yet.
	return c.Client.GetWorkflowUpdateHandle(client.GetWorkflowUpdateHandleOptions{WorkflowID: h.WorkflowID(), RunID: h.RunID(), UpdateID: h.UpdateID()}), nil
}

// A caller that hangs up once its vote is sent leaves a counted vote with
// its entry: the API waits for the run's answer on its own.
func TestVoteOfACallerThatLeftIsAudited(t *testing.T) {
	c := temporalStack(t)
	eachStore(t, func(t *testing.T, st *store.Store) {
		a := newTrustAPI(t, c, st)
		var run runView
		a.call("POST", "/api/v1/runbooks/gated/runs", a.ann, map[string]any{}, &run)
		a.waiting(run.ID)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		api := &API{Store: st, Temporal: leavingClient{a.c, cancel}, TaskQueue: worker.TaskQueue, Catalog: activities.Catalog()}
		req := httptest.NewRequestWithContext(ctx, "POST", "/api/v1/runs/"+run.ID+"/approvals/board", strings.NewReader(`{"decision":"approve"}`))
		req.Header.Set("Authorization", "Bearer "+a.bob)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		api.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("the vote of a caller that left: %d %s", rec.Code, rec.Body)
		}
		votes, err := st.Votes(run.ID)
		if err != nil || len(votes) != 1 || votes[0].Status != store.VoteCounted {
			t.Fatalf("votes: %+v %v", votes, err)
		}
		if got := a.voteEntries(run.ID); strings.Join(got, "\n") != "bob approval.vote ok" {
			t.Errorf("entries: %q", got)
		}
	})
}

// A vote the run counted whose entry the records could not take stays
// pending; the syncer counts it from the run's timeline and audits it. A
// pending vote on a run that has ended is refused with the reason.
func TestSyncerSettlesPendingVotes(t *testing.T) {
	c := temporalStack(t)
	path := filepath.Join(t.TempDir(), "api.db")
	st, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a := newTrustAPI(t, c, st)
	var run runView
	a.call("POST", "/api/v1/runbooks/gated/runs", a.ann, map[string]any{}, &run)
	a.waiting(run.ID)
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("ALTER TABLE audit_entries RENAME TO audit_gone"); err != nil {
		t.Fatal(err)
	}
	if got := a.vote(a.bob, run.ID); got != 200 {
		t.Errorf("the vote with the trail down: %d", got)
	}
	if _, err := db.Exec("ALTER TABLE audit_gone RENAME TO audit_entries"); err != nil {
		t.Fatal(err)
	}
	if got := a.voteEntries(run.ID); len(got) != 0 {
		t.Fatalf("entries before the syncer: %q", got)
	}
	a.api.SyncOnce(context.Background())
	if got := a.voteEntries(run.ID); len(got) != 0 {
		t.Fatalf("the syncer settled a vote younger than %v: %q", VoteSettleAfter, got)
	}
	past := time.Now().UTC().Add(-2 * VoteSettleAfter)
	if _, err := db.Exec("UPDATE votes SET at = ?", past); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		var v runView
		a.call("GET", "/api/v1/runs/"+run.ID, a.viewer, nil, &v)
		return v.Status == workflows.RunSucceeded
	})
	// A vote sealed but never sent (the API stopped): the run has ended.
	if err := st.PrepareVote(&store.Vote{RunID: run.ID, StepID: "board", Item: -1, User: "ann", Decision: "reject", At: past}); err != nil {
		t.Fatal(err)
	}
	a.api.SyncOnce(context.Background())
	want := "ann approval.vote refused: run " + run.ID + " has already ended: succeeded\nbob approval.vote ok"
	if got := a.voteEntries(run.ID); strings.Join(got, "\n") != want {
		t.Errorf("entries after the syncer:\n%s\nwant\n%s", strings.Join(got, "\n"), want)
	}
	votes, err := st.Votes(run.ID)
	if err != nil || len(votes) != 1 || votes[0].User != "bob" || votes[0].Status != store.VoteCounted {
		t.Errorf("votes after the syncer: %+v %v", votes, err)
	}
	a.api.SyncOnce(context.Background())
	if got := a.voteEntries(run.ID); len(got) != 2 {
		t.Errorf("a second pass wrote more: %q", got)
	}
}

// A vote on a run that has ended answers 409 with cancel's wording, even
// the voter's identical repeat, and Temporal's wording is nowhere.
func TestVoteOnAnEndedRun(t *testing.T) {
	c := temporalStack(t)
	eachStore(t, func(t *testing.T, st *store.Store) {
		a := newTrustAPI(t, c, st)
		var run runView
		a.call("POST", "/api/v1/runbooks/gated/runs", a.ann, map[string]any{}, &run)
		a.waiting(run.ID)
		if got := a.vote(a.bob, run.ID); got != 200 {
			t.Fatalf("bob: %d", got)
		}
		waitFor(t, func() bool {
			var v runView
			a.call("GET", "/api/v1/runs/"+run.ID, a.viewer, nil, &v)
			return v.Status == workflows.RunSucceeded
		})
		ended := "run " + run.ID + " has already ended: succeeded"
		for _, tc := range []struct{ who, decision string }{{a.bob, "approve"}, {a.bob, "reject"}, {a.am, "approve"}} {
			var p Problem
			if got := a.call("POST", "/api/v1/runs/"+run.ID+"/approvals/board", tc.who, map[string]any{"decision": tc.decision}, &p); got != 409 || p.Error != ended || len(p.Details) != 0 {
				t.Errorf("%s on the ended run: %d %+v", tc.decision, got, p)
			}
		}
		want := []string{"alertmanager approval.vote refused: " + ended, "bob approval.vote refused: " + ended, "bob approval.vote refused: " + ended, "bob approval.vote ok"}
		if got := a.voteEntries(run.ID); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("entries:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		for _, e := range a.audit(a.viewer, "limit=1000").Entries {
			if strings.Contains(e.Reason, "workflow execution") {
				t.Errorf("Temporal's wording in %+v", e)
			}
		}
	})
}

// A cancel whose entry the trail cannot take is not sent: every cancel
// the run receives has its entry.
func TestCancelIsRecordedBeforeItIsSent(t *testing.T) {
	c := temporalStack(t)
	path := filepath.Join(t.TempDir(), "api.db")
	st, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a := newTrustAPI(t, c, st)
	var run runView
	a.call("POST", "/api/v1/runbooks/gated/runs", a.ann, map[string]any{}, &run)
	a.waiting(run.ID)
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("ALTER TABLE audit_entries RENAME TO audit_gone"); err != nil {
		t.Fatal(err)
	}
	if got := a.call("POST", "/api/v1/runs/"+run.ID+"/cancel", a.ann, map[string]any{"reason": "r"}, nil); got != 500 {
		t.Errorf("cancel with the trail down: %d, want 500", got)
	}
	if _, err := db.Exec("ALTER TABLE audit_gone RENAME TO audit_entries"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	d, err := c.DescribeWorkflowExecution(context.Background(), run.ID, "")
	if err != nil || d.WorkflowExecutionInfo.Status.String() != "Running" {
		t.Fatalf("the run after a cancel the trail refused: %v %v", d.GetWorkflowExecutionInfo().GetStatus(), err)
	}
	if got := a.call("POST", "/api/v1/runs/"+run.ID+"/cancel", a.ann, map[string]any{"reason": "r"}, nil); got != 202 {
		t.Errorf("the retry: %d", got)
	}
	if got := a.audit(a.viewer, "action=run.cancel&run="+run.ID).Entries; len(got) != 1 || summary(got[0]) != "ann run.cancel ok" {
		t.Errorf("cancel entries: %+v", got)
	}
}

// An event whose poster hangs up once the run accepted it is audited.
func TestEventOfACallerThatLeftIsAudited(t *testing.T) {
	c := temporalStack(t)
	eachStore(t, func(t *testing.T, st *store.Store) {
		a := newTrustAPI(t, c, st)
		a.register(`apiVersion: runbook/v1
kind: Runbook
metadata: {name: waiter}
spec:
  steps:
    - {id: ready, waitFor: {event: go, timeout: 5m, senders: [bob]}}
`, 201)
		var run runView
		a.call("POST", "/api/v1/runbooks/waiter/runs", a.ann, map[string]any{}, &run)
		waitFor(t, func() bool {
			var v runView
			a.call("GET", "/api/v1/runs/"+run.ID, a.viewer, nil, &v)
			return len(v.Steps) > 0 && v.Steps[0].Status == workflows.StatusWaitingEvent
		})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		api := &API{Store: st, Temporal: leavingClient{a.c, cancel}, TaskQueue: worker.TaskQueue, Catalog: activities.Catalog()}
		req := httptest.NewRequestWithContext(ctx, "POST", "/api/v1/runs/"+run.ID+"/events/go", strings.NewReader(`{"payload":{}}`))
		req.Header.Set("Authorization", "Bearer "+a.bob)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		api.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusAccepted {
			t.Fatalf("the event of a caller that left: %d %s", rec.Code, rec.Body)
		}
		if got := a.audit(a.viewer, "action=run.event&run="+run.ID).Entries; len(got) != 1 || summary(got[0]) != "bob run.event ok" {
			t.Errorf("event entries: %+v", got)
		}
	})
}

// A vote refused for its inputs answers with the input names; its entry's
// reason does not quote the values.
func TestRefusedInputsAreNotInTheTrail(t *testing.T) {
	c := temporalStack(t)
	eachStore(t, func(t *testing.T, st *store.Store) {
		a := newTrustAPI(t, c, st)
		a.register(`apiVersion: runbook/v1
kind: Runbook
metadata: {name: sized}
spec:
  steps:
    - id: board
      approval:
        approvers: ["group:board"]
        inputs: [{name: size_gb, type: int, min: 10}, {name: tier, type: string, enum: [gold, silver]}]
`, 201)
		var run runView
		a.call("POST", "/api/v1/runbooks/sized/runs", a.ann, map[string]any{}, &run)
		a.waiting(run.ID)
		var p Problem
		body := map[string]any{"decision": "approve", "inputs": map[string]any{"size_gb": 7, "tier": "platinum", "szie": 1}}
		want := `invalid inputs: input "size_gb": 7 is less than min 10; input "tier": "platinum" is not one of "gold", "silver"; unknown input "szie"`
		if got := a.call("POST", "/api/v1/runs/"+run.ID+"/approvals/board", a.bob, body, &p); got != 422 || p.Error != want {
			t.Errorf("bad inputs: %d %q\nwant %q", got, p.Error, want)
		}
		reason := `invalid inputs: input "size_gb": the value is outside its constraints; input "tier": the value is outside its constraints; unknown input "szie"`
		if got := a.voteEntries(run.ID); strings.Join(got, "\n") != "bob approval.vote refused: "+reason {
			t.Errorf("entries: %q", got)
		}
	})
}
