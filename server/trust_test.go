package server

import (
	"context"
	"database/sql"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/devserver/devtest"
	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/worker"
	"github.com/opsrunbook/runbook/workflows"
)

const gated = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: gated}
spec:
  params: [{name: n, type: int, default: 1}]
  schedules: [{name: nightly, cron: "0 3 * * *", paused: true}]
  triggers:
    - alertmanager: {match: "alert.labels.alertname == 'GatedDown'"}
  steps:
    - id: board
      approval: {approvers: ["group:board"]}
`

// trustAPI serves an API on st with tokens for the attacks below.
type trustAPI struct {
	apiClient
	api                  *API
	c                    client.Client
	st                   *store.Store
	author, am, ann, bob string
	viewer, operatorOnly string
}

func newTrustAPI(t *testing.T, c client.Client, st *store.Store) *trustAPI {
	api := &API{Store: st, Temporal: c, TaskQueue: worker.TaskQueue, Catalog: activities.Catalog(), Scheduler: &Scheduler{Client: c, TaskQueue: worker.TaskQueue}}
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	token := func(user string, roles, groups []string) string {
		s, _, err := st.CreateToken(user, roles, groups)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a := &trustAPI{apiClient: apiClient{t, srv.URL}, api: api, c: c, st: st,
		author:       token("alice", []string{"author"}, nil),
		am:           token("alertmanager", []string{"operator", "approver"}, []string{"board"}),
		ann:          token("ann", []string{"operator", "approver", "viewer"}, []string{"board"}),
		bob:          token("bob", []string{"operator", "approver"}, []string{"board"}),
		viewer:       token("vic", []string{"viewer"}, nil),
		operatorOnly: token("oscar", []string{"operator"}, nil),
	}
	if got := a.call("POST", "/api/v1/runbooks", a.author, gated, nil); got != 201 {
		t.Fatalf("register: %d", got)
	}
	return a
}

// waiting waits until run waits at its approval.
func (a *trustAPI) waiting(run string) {
	waitFor(a.t, func() bool {
		var v runView
		a.call("GET", "/api/v1/runs/"+run, a.viewer, nil, &v)
		return len(v.Steps) > 0 && v.Steps[0].Status == workflows.StatusWaitingApproval
	})
}

func (a *trustAPI) vote(who, run string) int {
	return a.call("POST", "/api/v1/runs/"+run+"/approvals/board", who, map[string]any{"decision": "approve"}, nil)
}

func TestTrustBoundary(t *testing.T) {
	c := temporalStack(t)
	eachStore(t, func(t *testing.T, st *store.Store) {
		a := newTrustAPI(t, c, st)
		t.Run("a vote sent straight to Temporal is refused", func(t *testing.T) { forgedUpdate(t, a) })
		t.Run("the alert's caller is its starter", func(t *testing.T) { alertStarter(t, a) })
		t.Run("the schedule's caller is its starter", func(t *testing.T) { scheduleStarter(t, a) })
		t.Run("idempotency keys cannot be pre-claimed", func(t *testing.T) { preClaimedKeys(t, a) })
		t.Run("a sealed run", func(t *testing.T) { sealedRun(t, a) })
		t.Run("a retried vote tells the decision as it is", func(t *testing.T) { retriedVote(t, a) })
		t.Run("bad input changes nothing", func(t *testing.T) { badInput(t, a) })
	})
}

// sealedRun takes a sealed vote and a sealed event through the API; its
// history is recorded for the replay test.
func sealedRun(t *testing.T, a *trustAPI) {
	src := `apiVersion: runbook/v1
kind: Runbook
metadata: {name: sealed}
spec:
  steps:
    - id: board
      approval: {approvers: ["group:board"]}
    - {id: ready, waitFor: {event: go, timeout: 5m, senders: [bob]}}
    - {id: done, action: log, with: {message: "${{ steps.ready.outputs.payload.reason }}"}}
`
	a.register(src, 201)
	var run runView
	a.call("POST", "/api/v1/runbooks/sealed/runs", a.ann, map[string]any{}, &run)
	a.waiting(run.ID)
	if got := a.vote(a.bob, run.ID); got != 200 {
		t.Fatalf("vote: %d", got)
	}
	if got := a.call("POST", "/api/v1/runs/"+run.ID+"/events/go", a.ann, map[string]any{"payload": map[string]any{"reason": "not bob"}}, nil); got != 403 {
		t.Errorf("ann posting: %d, want 403", got)
	}
	if got := a.call("POST", "/api/v1/runs/"+run.ID+"/events/go", a.bob, map[string]any{"payload": map[string]any{"reason": "dns ready"}}, nil); got != 202 {
		t.Fatalf("bob posting: %d", got)
	}
	var v runView
	waitFor(t, func() bool {
		a.call("GET", "/api/v1/runs/"+run.ID, a.viewer, nil, &v)
		return v.Status != workflows.RunRunning
	})
	if v.Status != workflows.RunSucceeded || v.Steps[2].Outputs["message"] != "dns ready" {
		t.Fatalf("run: %s %+v", v.Status, v.Steps)
	}
	if strings.HasSuffix(t.Name(), "sqlite/a_sealed_run") {
		devtest.RecordHistory(t, filepath.Join("..", "workflows", "testdata", "histories", "TestTrustBoundary-sealed"), devtest.HistoryJSON(t, a.c, run.ID), run.ID)
	}
}

func forgedUpdate(t *testing.T, a *trustAPI) {
	var run runView
	if got := a.call("POST", "/api/v1/runbooks/gated/runs", a.ann, map[string]any{}, &run); got != 201 {
		t.Fatalf("start: %d", got)
	}
	a.waiting(run.ID)
	// What a shell step on a worker, or anyone with the workers' Temporal
	// credentials, can send: any user, any groups.
	ctx := context.Background()
	forged := workflows.VoteRequest{Step: "board", Decision: "approve", User: "bob", Groups: []string{"board"}}
	h, err := a.c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: run.ID, UpdateName: workflows.UpdateApprove,
		Args: []any{forged}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err == nil {
		err = h.Get(ctx, nil)
	}
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != workflows.SealMissing {
		t.Fatalf("forged update: %v, want %s", err, workflows.SealMissing)
	}
	event := workflows.Event{Name: "go", Sender: "bob"}
	if err := a.c.SignalWorkflow(ctx, run.ID, "", workflows.SignalEvent, event); err != nil {
		t.Fatal(err)
	}
	var v runView
	a.call("GET", "/api/v1/runs/"+run.ID, a.viewer, nil, &v)
	if len(v.Steps[0].Votes) != 0 || v.Status != workflows.RunRunning {
		t.Fatalf("the forged vote counted: %+v", v.Steps[0])
	}
	if votes, _ := a.st.Votes(run.ID); len(votes) != 0 {
		t.Errorf("votes recorded: %+v", votes)
	}
	// The API's own vote still counts; the run then ends, and the same
	// vote again is refused as on any ended run.
	if got := a.vote(a.bob, run.ID); got != 200 {
		t.Fatalf("bob through the API: %d", got)
	}
	waitFor(t, func() bool {
		a.call("GET", "/api/v1/runs/"+run.ID, a.viewer, nil, &v)
		return v.Status != workflows.RunRunning
	})
	if got := a.vote(a.bob, run.ID); got != 409 {
		t.Errorf("bob's retry on the ended run: %d", got)
	}
	votes, _ := a.st.Votes(run.ID)
	if len(votes) != 1 || votes[0].User != "bob" || votes[0].Status != store.VoteCounted {
		t.Errorf("votes = %+v, want bob's, counted", votes)
	}
}

func alertStarter(t *testing.T, a *trustAPI) {
	// The fingerprint claims "bob": it used to become the run's starter, so
	// bob was locked out and the poster could approve.
	alert := map[string]any{"status": "firing", "alerts": []any{map[string]any{"status": "firing", "fingerprint": "bob",
		"startsAt": "2026-12-01T09:00:00Z", "labels": map[string]any{"alertname": "GatedDown"}}}}
	var res struct {
		Runs []hookResult `json:"runs"`
	}
	if got := a.call("POST", "/hooks/alertmanager", a.am, alert, &res); got != 200 || len(res.Runs) != 1 || res.Runs[0].Run == "" {
		t.Fatalf("alert: %d %+v", got, res)
	}
	id := res.Runs[0].Run
	var v runView
	a.call("GET", "/api/v1/runs/"+id, a.viewer, nil, &v)
	if v.StartedBy != "alertmanager" || v.TriggeredBy != "bob" {
		t.Errorf("startedBy %q, triggeredBy %q", v.StartedBy, v.TriggeredBy)
	}
	if audit, _ := a.st.AuditLog("run.start", 50); !hasAudit(audit, "alertmanager", id) {
		t.Errorf("run.start is not audited by the caller: %+v", audit)
	}
	a.waiting(id)
	if got := a.vote(a.am, id); got != 403 {
		t.Errorf("the alert's poster approving: %d, want 403", got)
	}
	if got := a.vote(a.bob, id); got != 200 {
		t.Errorf("bob, named by the fingerprint: %d, want 200", got)
	}
}

func scheduleStarter(t *testing.T, a *trustAPI) {
	var out map[string]string
	if got := a.call("POST", "/api/v1/runbooks/gated/schedules/nightly/trigger", a.ann, nil, &out); got != 202 || out["run"] == "" {
		t.Fatalf("trigger: %d %v", got, out)
	}
	var v runView
	a.call("GET", "/api/v1/runs/"+out["run"], a.viewer, nil, &v)
	if v.StartedBy != "ann" || v.Trigger != "schedule" || v.TriggerDetail != "nightly" {
		t.Errorf("run = %+v", v.Run)
	}
	a.waiting(out["run"])
	if got := a.vote(a.ann, out["run"]); got != 403 {
		t.Errorf("ann approving the run she triggered: %d, want 403", got)
	}
	if got := a.vote(a.bob, out["run"]); got != 200 {
		t.Errorf("bob: %d", got)
	}
}

func preClaimedKeys(t *testing.T, a *trustAPI) {
	start := func(who string, params map[string]any, key string) (int, runView) {
		var v runView
		got := a.call("POST", "/api/v1/runbooks/gated/runs", who, map[string]any{"params": params}, &v, "Idempotency-Key", key)
		return got, v
	}
	got, annRun := start(a.ann, nil, "deploy-7")
	if got != 201 {
		t.Fatalf("ann: %d", got)
	}
	// Oscar guessed ann's key: he gets a run of his own, not hers.
	if got, v := start(a.operatorOnly, nil, "deploy-7"); got != 201 || v.ID == annRun.ID {
		t.Errorf("oscar with ann's key: %d %s (ann's %s)", got, v.ID, annRun.ID)
	}
	if got, v := start(a.ann, nil, "deploy-7"); got != 200 || v.ID != annRun.ID {
		t.Errorf("ann again: %d %s", got, v.ID)
	}
	var p Problem
	if got := a.call("POST", "/api/v1/runbooks/gated/runs", a.ann, map[string]any{"params": map[string]any{"n": 2}}, &p, "Idempotency-Key", "deploy-7"); got != 422 || p.Error != "the idempotency key was used with other params" {
		t.Errorf("other params: %d %+v", got, p)
	}
	// An operator cannot pre-claim an alert: its key is scoped to the token
	// that posts it, so Alertmanager's own post still starts its run.
	alert := map[string]any{"status": "firing", "alerts": []any{map[string]any{"status": "firing", "fingerprint": "pc1",
		"startsAt": "2026-12-01T10:00:00Z", "labels": map[string]any{"alertname": "GatedDown"}}}}
	var first, real, again struct {
		Runs []hookResult `json:"runs"`
	}
	a.call("POST", "/hooks/alertmanager", a.operatorOnly, alert, &first)
	a.call("POST", "/hooks/alertmanager", a.am, alert, &real)
	a.call("POST", "/hooks/alertmanager", a.am, alert, &again)
	if len(first.Runs) != 1 || len(real.Runs) != 1 || real.Runs[0].Outcome != "started" || real.Runs[0].Run == first.Runs[0].Run {
		t.Errorf("a pre-claimed alert: %+v then %+v", first, real)
	}
	if len(again.Runs) != 1 || again.Runs[0].Outcome != "duplicate" || again.Runs[0].Run != real.Runs[0].Run {
		t.Errorf("the same alert again: %+v", again)
	}
	// The alert namespace is not reachable from the header.
	alertKey := "alert:gated:bob:2026-12-01T09:00:00.000Z"
	if got, v := start(a.ann, nil, alertKey); got != 201 || v.Trigger != "api" {
		t.Errorf("ann with the alert's key: %d %+v", got, v.Run)
	}
}

func hasAudit(log []store.AuditEntry, actor, target string) bool {
	for _, e := range log {
		if e.Actor == actor && e.Target == target {
			return true
		}
	}
	return false
}

// A vote the records cannot hold is not counted: it is recorded first.
func TestVoteIsRecordedBeforeItCounts(t *testing.T) {
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
	// The API writes too (a token's last use): wait for its lock, as it
	// waits for ours.
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("ALTER TABLE votes RENAME TO votes_gone"); err != nil {
		t.Fatal(err)
	}
	if got := a.vote(a.bob, run.ID); got != 500 {
		t.Errorf("vote with the records down: %d, want 500", got)
	}
	var v runView
	a.call("GET", "/api/v1/runs/"+run.ID, a.viewer, nil, &v)
	if len(v.Steps[0].Votes) != 0 {
		t.Fatalf("the run counted a vote the records do not hold: %+v", v.Steps[0].Votes)
	}
	if _, err := db.Exec("ALTER TABLE votes_gone RENAME TO votes"); err != nil {
		t.Fatal(err)
	}
	if got := a.vote(a.bob, run.ID); got != 200 {
		t.Errorf("the retry: %d", got)
	}
}

func retriedVote(t *testing.T, a *trustAPI) {
	src := `apiVersion: runbook/v1
kind: Runbook
metadata: {name: two}
spec:
  steps:
    - id: board
      approval: {approvers: ["group:board"], minApprovals: 2}
`
	a.register(src, 201)
	var run runView
	a.call("POST", "/api/v1/runbooks/two/runs", a.operatorOnly, map[string]any{}, &run)
	a.waiting(run.ID)
	var res workflows.VoteResult
	vote := func(who, decision string) int {
		res = workflows.VoteResult{}
		return a.call("POST", "/api/v1/runs/"+run.ID+"/approvals/board", who, map[string]any{"decision": decision}, &res)
	}
	if got := vote(a.ann, "approve"); got != 200 || res.Decision != plan.DecisionPending {
		t.Fatalf("ann: %d %+v", got, res)
	}
	if got := vote(a.ann, "approve"); got != 200 || res.Decision != plan.DecisionPending || res.Approvals != 1 {
		t.Fatalf("ann's retry: %d %+v", got, res)
	}
	if got := vote(a.bob, "reject"); got != 200 || res.Decision != plan.DecisionRejected {
		t.Fatalf("bob: %d %+v", got, res)
	}
	// ann's retry while the step waits is answered as the first time; once
	// bob's veto has ended the run, as on any ended run.
	waitFor(t, func() bool {
		var v runView
		a.call("GET", "/api/v1/runs/"+run.ID, a.viewer, nil, &v)
		return v.Status == workflows.RunFailed
	})
	var p Problem
	if got := a.call("POST", "/api/v1/runs/"+run.ID+"/approvals/board", a.ann, map[string]any{"decision": "approve"}, &p); got != 409 ||
		p.Error != "run "+run.ID+" has already ended: failed" {
		t.Errorf("ann's retry after bob's veto ended the run: %d %+v", got, p)
	}
	if got := vote(a.am, "approve"); got != 409 {
		t.Errorf("a new vote on the decided step: %d, want 409", got)
	}
}

func badInput(t *testing.T, a *trustAPI) {
	before, _, _ := a.st.Runs(store.RunFilter{Runbook: "gated", Limit: 500})
	var p Problem
	if got := a.call("POST", "/api/v1/runbooks/gated/runs", a.ann, map[string]any{"parmas": map[string]any{"n": 2}}, &p); got != 400 || p.Error != `the body has an unknown field "parmas"` || p.Details[0] != "fields: params, breakGlass, incident" {
		t.Errorf("misspelt params: %d %+v", got, p)
	}
	if got := a.call("GET", "/api/v1/runbooks/gated?version=abc", a.viewer, nil, &p); got != 400 || p.Error != "version must be a positive integer" {
		t.Errorf("version=abc: %d %+v", got, p)
	}
	if got := a.call("GET", "/api/v1/runs?status=bogus", a.viewer, nil, &p); got != 400 || p.Error != "status must be one of running, waiting_decision, succeeded, failed, cancelled" {
		t.Errorf("status=bogus: %d %+v", got, p)
	}
	if len(before) == 0 {
		t.Fatal("no run of gated to post to")
	}
	if got := a.call("POST", "/api/v1/runs/"+before[0].ID+"/events/anything", a.ann, map[string]any{"payload": map[string]any{"big": "x"}}, &p); got != 404 || p.Error != "runbook gated has no waitFor step for event anything" {
		t.Errorf("an event nothing waits for: %d %+v", got, p)
	}
	after, _, _ := a.st.Runs(store.RunFilter{Runbook: "gated", Limit: 500})
	if len(after) != len(before) {
		t.Errorf("refused requests recorded %d runs", len(after)-len(before))
	}
}
