package server

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"go.temporal.io/sdk/client"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/worker"
	"github.com/opsrunbook/runbook/workflows"
)

type apiClient struct {
	t   *testing.T
	url string
}

// call sends a request with token and decodes the JSON answer into out.
func (a apiClient) call(method, path, token string, body any, out any, header ...string) int {
	a.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		r = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, a.url+path, r)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		a.t.Errorf("%s %s answered %s, not JSON: %s", method, path, ct, raw)
	}
	if resp.StatusCode >= 400 {
		var p Problem
		if err := json.Unmarshal(raw, &p); err != nil || p.Error == "" || p.Details == nil {
			a.t.Errorf("%s %s: error body is not {error, details[]}: %s", method, path, raw)
		}
	}
	if out != nil {
		_ = json.Unmarshal(raw, out)
	}
	return resp.StatusCode
}

const release = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: release}
spec:
  params: [{name: version, type: string, required: true, pattern: "^v[0-9.]+$"}]
  concurrency: {key: "'release'", onConflict: reject}
  steps:
    - id: board
      approval: {approvers: ["group:change-board"], minApprovals: 2}
    - {id: ship, action: shell, with: {command: [echo, "${{ params.version }}"]}}
  outputs: {shipped: steps.ship.outputs.stdout.trim()}
`

func TestAPIReleaseWithApprovals(t *testing.T) {
	c := temporalStack(t)
	eachStore(t, func(t *testing.T, st *store.Store) { releaseWithApprovals(t, c, st) })
}

func releaseWithApprovals(t *testing.T, c client.Client, st *store.Store) {
	api := &API{Store: st, Temporal: c, TaskQueue: worker.TaskQueue, Catalog: activities.Catalog(), Scheduler: &Scheduler{Client: c, TaskQueue: worker.TaskQueue}}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	cl := apiClient{t, srv.URL}
	token := func(user string, roles, groups []string) string {
		s, _, err := st.CreateToken(user, roles, groups)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	author := token("alice", []string{"author", "viewer"}, nil)
	ann := token("ann", []string{"operator", "approver", "viewer"}, []string{"change-board"})
	bob := token("bob", []string{"approver"}, []string{"change-board"})
	cid := token("cid", []string{"approver"}, []string{"change-board"})
	eve := token("eve", []string{"approver"}, []string{"interns"})
	viewer := token("vic", []string{"viewer"}, nil)

	if got := cl.call("GET", "/api/v1/runbooks", "", nil, nil); got != 401 {
		t.Errorf("no token: %d", got)
	}
	if got := cl.call("GET", "/api/v1/runbooks", "rbk_nope", nil, nil); got != 401 {
		t.Errorf("bad token: %d", got)
	}
	if got := cl.call("POST", "/api/v1/runbooks", viewer, release, nil); got != 403 {
		t.Errorf("viewer registering: %d", got)
	}
	var bad Problem
	if got := cl.call("POST", "/api/v1/runbooks", author, strings.Replace(release, "action: shell", "action: shel", 1), &bad); got != 422 || len(bad.Details) == 0 {
		t.Fatalf("bad YAML: %d %+v", got, bad)
	}
	if d := bad.Details[0].(map[string]any); d["pos"].(map[string]any)["line"] != float64(10) || !strings.Contains(d["message"].(string), "unknown action") || d["code"] != "unknown-action" {
		t.Errorf("problem detail = %v", d)
	}
	var reg runbookView
	if got := cl.call("POST", "/api/v1/runbooks", author, release, &reg); got != 201 || reg.Version != 1 {
		t.Fatalf("register: %d %+v", got, reg)
	}
	if got := cl.call("POST", "/api/v1/runbooks", author, release, &reg); got != 200 || reg.Version != 1 {
		t.Errorf("same content again: %d %+v", got, reg)
	}
	if got := cl.call("POST", "/api/v1/runbooks/nope/runs", ann, map[string]any{}, nil); got != 404 {
		t.Errorf("unknown runbook: %d", got)
	}
	if got := cl.call("POST", "/api/v1/runbooks/release/runs", ann, map[string]any{"params": map[string]any{"version": "latest"}}, nil); got != 422 {
		t.Errorf("bad params: %d", got)
	}
	var run runView
	start := map[string]any{"params": map[string]any{"version": "v1.2.3"}}
	if got := cl.call("POST", "/api/v1/runbooks/release/runs", ann, start, &run, "Idempotency-Key", "rel-1"); got != 201 {
		t.Fatalf("start: %d %+v", got, run)
	}
	var again runView
	if got := cl.call("POST", "/api/v1/runbooks/release/runs", ann, start, &again, "Idempotency-Key", "rel-1"); got != 200 || again.ID != run.ID {
		t.Errorf("same idempotency key: %d, %s vs %s", got, again.ID, run.ID)
	}
	if got := cl.call("POST", "/api/v1/runbooks/release/runs", ann, start, nil); got != 409 {
		t.Errorf("concurrent release: %d", got)
	}
	waitFor(t, func() bool {
		var v runView
		cl.call("GET", "/api/v1/runs/"+run.ID, viewer, nil, &v)
		return len(v.Steps) > 0 && v.Steps[0].Status == workflows.StatusWaitingApproval
	})
	for _, tt := range []struct {
		who  string
		want int
		vote string
	}{{ann, 403, "approve"}, {eve, 403, "approve"}, {bob, 200, "approve"}, {bob, 200, "approve"}, {bob, 409, "reject"},
		{viewer, 403, "approve"}, {cid, 200, "approve"}} {
		// The same vote again (a client's retry) is answered as the first
		// time; another decision by the same voter is refused.
		if got := cl.call("POST", "/api/v1/runs/"+run.ID+"/approvals/board", tt.who, map[string]any{"decision": tt.vote}, nil); got != tt.want {
			t.Errorf("vote %s: %d, want %d", tt.vote, got, tt.want)
		}
	}
	var done runView
	waitFor(t, func() bool {
		cl.call("GET", "/api/v1/runs/"+run.ID, viewer, nil, &done)
		return done.Status != workflows.RunRunning
	})
	if done.Status != workflows.RunSucceeded || done.Outputs["shipped"] != "v1.2.3" {
		t.Fatalf("run: %+v", done)
	}
	// Once the run has ended, even the same vote again is refused.
	var ended Problem
	if got := cl.call("POST", "/api/v1/runs/"+run.ID+"/approvals/board", cid, map[string]any{"decision": "approve"}, &ended); got != 409 ||
		ended.Error != "run "+run.ID+" has already ended: succeeded" {
		t.Errorf("cid's retry on the ended run: %d %+v", got, ended)
	}
	var list struct {
		Runs []store.Run `json:"runs"`
	}
	if cl.call("GET", "/api/v1/runs?runbook=release&status=succeeded", viewer, nil, &list); len(list.Runs) != 1 {
		t.Errorf("list: %+v", list)
	}
	votes, _ := st.Votes(run.ID)
	audit, _ := st.AuditLog("approval.", 10)
	outcomes := map[string]int{}
	for _, e := range audit {
		outcomes[e.Outcome]++
	}
	// ann's self-approval, eve's (not an approver), bob's second decision
	// and cid's retry on the ended run are refused; bob's retry while the
	// run waits adds nothing.
	if len(votes) != 2 || outcomes[store.AuditOK] != 2 || outcomes[store.AuditRefused] != 4 {
		t.Errorf("votes %d, audit %v: every accepted vote is recorded, every refused one audited", len(votes), outcomes)
	}

	// A rejected approval fails the run and undoes what ran before it.
	rollback := `apiVersion: runbook/v1
kind: Runbook
metadata: {name: risky}
spec:
  steps:
    - id: prepare
      action: log
      with: {message: prepared}
      compensate: {action: log, with: {message: "undo ${{ steps.prepare.outputs.message }}"}}
    - id: board
      approval: {approvers: ["group:change-board"]}
`
	if got := cl.call("POST", "/api/v1/runbooks", author, rollback, nil); got != 201 {
		t.Fatalf("register risky: %d", got)
	}
	var risky runView
	cl.call("POST", "/api/v1/runbooks/risky/runs", ann, map[string]any{}, &risky)
	waitFor(t, func() bool {
		return cl.call("POST", "/api/v1/runs/"+risky.ID+"/approvals/board", bob, map[string]any{"decision": "reject", "comment": "no"}, nil) == 200
	})
	waitFor(t, func() bool {
		cl.call("GET", "/api/v1/runs/"+risky.ID, viewer, nil, &risky)
		return risky.Status != workflows.RunRunning
	})
	if risky.Status != workflows.RunFailed || risky.ErrorType != workflows.ErrApprovalReject || risky.Steps[0].Status != workflows.StatusCompensated {
		t.Errorf("rejected run: %s %s, prepare %s", risky.Status, risky.ErrorType, risky.Steps[0].Status)
	}
	if got := cl.call("GET", "/readyz", "", nil, nil); got != 200 {
		t.Errorf("readyz: %d", got)
	}
	if got := cl.call("DELETE", "/api/v1/runs", viewer, nil, nil); got != 405 {
		t.Errorf("DELETE /runs: %d", got)
	}
}

// eachStore runs fn with a SQLite store and, when Postgres is reachable,
// a Postgres one in a schema of its own.
func eachStore(t *testing.T, fn func(t *testing.T, st *store.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		st, err := store.Open(filepath.Join(t.TempDir(), "api.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		fn(t, st)
	})
	t.Run("postgres", func(t *testing.T) {
		const url = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
		admin, err := sql.Open("pgx", url)
		if err == nil {
			err = admin.Ping()
		}
		if err != nil {
			t.Skipf("Postgres at 127.0.0.1:5432 (database test) is unreachable: %v", err)
		}
		defer admin.Close()
		schema := fmt.Sprintf("rbapi_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
		if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
			t.Fatal(err)
		}
		defer admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		st, err := store.Open(url + "&search_path=" + schema)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		fn(t, st)
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 600 {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("condition never held")
}
