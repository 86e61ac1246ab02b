package server

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/workflows"
)

// auditPage is GET /api/v1/audit's answer.
type auditPage struct {
	Entries []auditEntryView `json:"entries"`
	Next    string           `json:"next"`
}

func (a *trustAPI) audit(token, query string) auditPage {
	a.t.Helper()
	var page auditPage
	if got := a.call("GET", "/api/v1/audit?"+query, token, nil, &page); got != 200 {
		a.t.Fatalf("GET /api/v1/audit?%s: %d", query, got)
	}
	return page
}

// summary is an entry as "actor action outcome: reason".
func summary(e auditEntryView) string {
	s := e.Actor + " " + e.Action + " " + e.Outcome
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// TestAuditTrail: the trail holds who started, voted, posted and
// cancelled, the refused self-approval, starts and cancel with their
// reasons, filters and pages; token entries are the admins'.
func TestAuditTrail(t *testing.T) {
	c := temporalStack(t)
	eachStore(t, func(t *testing.T, st *store.Store) {
		a := newTrustAPI(t, c, st)
		admin, _, err := st.CreateToken("root", []string{"admin"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		a.register(`apiVersion: runbook/v1
kind: Runbook
metadata: {name: audited}
spec:
  params: [{name: n, type: int, default: 1}]
  concurrency: {key: "'one'", onConflict: reject}
  steps:
    - id: board
      approval: {approvers: ["group:board"]}
    - {id: ready, waitFor: {event: go, timeout: 5m, senders: [bob]}}
    - id: hold
      approval: {approvers: [nobody]}
`, 201)
		var run runView
		if got := a.call("POST", "/api/v1/runbooks/audited/runs", a.ann, map[string]any{}, &run); got != 201 {
			t.Fatalf("start: %d", got)
		}
		if got := a.call("POST", "/api/v1/runbooks/audited/runs", a.bob, map[string]any{"params": map[string]any{"n": "two"}}, nil); got != 422 {
			t.Errorf("bad params: %d", got)
		}
		if got := a.call("POST", "/api/v1/runbooks/audited/runs", a.bob, map[string]any{}, nil); got != 409 {
			t.Errorf("held concurrency key: %d", got)
		}
		a.waiting(run.ID)
		var p Problem
		if got := a.call("POST", "/api/v1/runs/"+run.ID+"/approvals/board", a.ann, map[string]any{"decision": "approve", "comment": "mine"}, &p); got != 403 {
			t.Fatalf("self-approval: %d %+v", got, p)
		}
		if got := a.call("POST", "/api/v1/runs/"+run.ID+"/approvals/board", a.bob, map[string]any{"decision": "approve", "comment": "looks right"}, nil); got != 200 {
			t.Fatalf("bob's vote: %d", got)
		}
		waitFor(t, func() bool {
			return a.call("POST", "/api/v1/runs/"+run.ID+"/events/go", a.bob, map[string]any{"payload": map[string]any{"secretish": "not in the audit"}}, nil) == 202
		})
		long := strings.Repeat("x", MaxCancelReason+1)
		if got := a.call("POST", "/api/v1/runs/"+run.ID+"/cancel", a.ann, map[string]any{"reason": long}, &p); got != 422 || p.Error != "reason is 1025 bytes; at most 1024" {
			t.Errorf("a long reason: %d %+v", got, p)
		}
		if got := a.call("POST", "/api/v1/runs/"+run.ID+"/cancel", a.ann, map[string]any{"reason": "wrong target"}, nil); got != 202 {
			t.Fatalf("cancel: %d", got)
		}
		waitFor(t, func() bool {
			var v runView
			a.call("GET", "/api/v1/runs/"+run.ID, a.viewer, nil, &v)
			return v.Status == workflows.RunCancelled
		})
		ended := "run " + run.ID + " has already ended: cancelled"
		if got := a.call("POST", "/api/v1/runs/"+run.ID+"/cancel", a.bob, nil, &p); got != 409 || p.Error != ended || len(p.Details) != 0 {
			t.Errorf("cancelling the ended run: %d %+v", got, p)
		}

		// The run's trail, newest first, as a viewer reads it.
		got := a.audit(a.viewer, "run="+url.QueryEscape(run.ID))
		var lines []string
		for _, e := range got.Entries {
			lines = append(lines, summary(e))
			if e.Run != run.ID || e.Runbook != "audited" {
				t.Errorf("%s: run %q runbook %q", e.Action, e.Run, e.Runbook)
			}
		}
		want := []string{
			"bob run.cancel refused: " + ended,
			"ann run.cancel ok",
			"ann run.cancel refused: reason is 1025 bytes; at most 1024; field: reason, limit: 1024, size: 1025",
			"bob run.event ok",
			"bob approval.vote ok",
			"ann approval.vote refused: ann started this run and may not approve it",
			"ann run.start ok",
		}
		if !reflect.DeepEqual(lines, want) {
			t.Errorf("the run's trail:\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
		}
		if len(got.Entries) == len(want) {
			details := map[int]string{1: `{"reason":"wrong target"}`, 3: `{"event":"go","size":32}`, 4: `{"step":"board","decision":"approve","comment":"looks right"}`,
				5: `{"step":"board","decision":"approve","comment":"mine","code":"SelfApproval","status":403}`, 0: `{"status":409}`}
			for i, d := range details {
				if string(got.Entries[i].Detail) != d {
					t.Errorf("%s detail: %s, want %s", got.Entries[i].Action, got.Entries[i].Detail, d)
				}
			}
			if e := got.Entries[3]; e.Target != run.ID+"/go" || strings.Contains(string(e.Detail), "secretish") {
				t.Errorf("event entry: %+v", e)
			}
		}

		// Refused starts, by who tried and why.
		got = a.audit(a.viewer, "runbook=audited&action=run.start&outcome=refused")
		lines = nil
		for _, e := range got.Entries {
			lines = append(lines, summary(e)+" "+e.Target+" "+string(e.Detail))
		}
		want = []string{
			`bob run.start refused: a run with the same concurrency key is running; key: one, run: ` + run.ID + ` audited {"version":1,"trigger":"api","triggeredBy":"bob","status":409}`,
			`bob run.start refused: invalid params; param "n": expected an integer, got a string audited {"version":1,"trigger":"api","triggeredBy":"bob","status":422}`,
		}
		if !reflect.DeepEqual(lines, want) {
			t.Errorf("refused starts:\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
		}

		// An alert whose params the runbook refuses: a refused start by the
		// token that posted it.
		a.register(`apiVersion: runbook/v1
kind: Runbook
metadata: {name: alerted}
spec:
  params: [{name: host, type: string, pattern: "^web[0-9]+$"}]
  triggers:
    - alertmanager: {match: "alert.labels.alertname == 'AuditedDown'", params: {host: "alert.labels.host"}}
  steps:
    - {id: hi, action: log, with: {message: hi}}
`, 201)
		alert := map[string]any{"status": "firing", "alerts": []any{map[string]any{"status": "firing", "fingerprint": "f1",
			"startsAt": "2026-12-01T09:00:00Z", "labels": map[string]any{"alertname": "AuditedDown", "host": "db1"}}}}
		if got := a.call("POST", "/hooks/alertmanager", a.am, alert, nil); got != 200 {
			t.Fatalf("alert: %d", got)
		}
		got = a.audit(a.viewer, "runbook=alerted&action=run.start")
		if len(got.Entries) != 1 || got.Entries[0].Actor != "alertmanager" || got.Entries[0].Outcome != "refused" ||
			!strings.Contains(got.Entries[0].Reason, `param "host"`) || string(got.Entries[0].Detail) != `{"version":1,"trigger":"alert","triggeredBy":"f1","triggerDetail":"AuditedDown","status":422}` {
			t.Errorf("the refused alert: %+v", got.Entries)
		}

		// Schedules: who paused, unpaused and triggered them.
		for _, action := range []string{"unpause", "pause", "trigger"} {
			if got := a.call("POST", "/api/v1/runbooks/gated/schedules/nightly/"+action, a.bob, nil, nil); got != 202 {
				t.Fatalf("%s: %d", action, got)
			}
		}
		got = a.audit(a.viewer, "runbook=gated&actor=bob")
		lines = nil
		for _, e := range got.Entries {
			lines = append(lines, summary(e)+" "+e.Target+" "+string(e.Detail))
		}
		if len(got.Entries) != 4 || got.Entries[0].Run == "" || got.Entries[0].Run != got.Entries[1].Run ||
			!reflect.DeepEqual(lines, []string{
				`bob schedule.trigger ok gated/nightly {"schedule":"nightly"}`,
				`bob run.start ok ` + got.Entries[0].Run + ` {"version":1,"trigger":"schedule","triggeredBy":"nightly","triggerDetail":"nightly"}`,
				`bob schedule.pause ok gated/nightly {"schedule":"nightly"}`,
				`bob schedule.unpause ok gated/nightly {"schedule":"nightly"}`,
			}) {
			t.Errorf("schedules:\n%s", strings.Join(lines, "\n"))
		}

		// Pages of 2 give every entry once, newest first.
		all := a.audit(a.viewer, "limit=1000")
		var paged []uint
		for query := "limit=2"; ; {
			page := a.audit(a.viewer, query)
			for _, e := range page.Entries {
				paged = append(paged, e.ID)
			}
			if page.Next == "" {
				break
			}
			query = "limit=2&cursor=" + url.QueryEscape(page.Next)
		}
		var ids []uint
		for _, e := range all.Entries {
			ids = append(ids, e.ID)
		}
		if len(ids) < 10 || !reflect.DeepEqual(paged, ids) || all.Next != "" {
			t.Errorf("paged %v, all %v (next %q)", paged, ids, all.Next)
		}
		if got := a.audit(a.viewer, "actor=alice&action=runbook.register"); len(got.Entries) != 3 || got.Entries[1].Target != "audited v1" || got.Entries[1].Runbook != "audited" ||
			string(got.Entries[1].Detail) != `{"version":1,"hash":"`+a.runbookHash("audited")+`"}` {
			t.Errorf("registrations: %+v", got.Entries)
		}

		// Token entries are the admins'.
		if got := a.call("POST", "/api/v1/tokens", admin, map[string]any{"user": "tess", "roles": []string{"viewer"}}, nil); got != 201 {
			t.Fatalf("token: %d", got)
		}
		if got := a.audit(admin, "action=token.create"); len(got.Entries) != 1 || got.Entries[0].Actor != "root" || strings.Contains(string(got.Entries[0].Detail), "rbk_") == false {
			t.Errorf("the admin's token entries: %+v", got.Entries)
		}
		// So are the console's sign-ins.
		if err := a.st.Append(store.AuditRecord{Actor: "ann@example.com", Action: store.ActionSignIn, Target: "session 1",
			Detail: store.SessionDetail{Method: "oidc", Address: "192.0.2.1", Roles: []string{"viewer"}}}); err != nil {
			t.Fatal(err)
		}
		if got := a.audit(admin, "action=session.signin"); len(got.Entries) != 1 || string(got.Entries[0].Detail) != `{"method":"oidc","address":"192.0.2.1","roles":["viewer"]}` {
			t.Errorf("the admin's session entries: %+v", got.Entries)
		}
		for _, e := range a.audit(a.viewer, "limit=1000").Entries {
			if strings.HasPrefix(e.Action, "token.") || strings.HasPrefix(e.Action, "session.") {
				t.Errorf("a viewer reads %+v", e)
			}
		}
		for _, action := range []string{"token.create", "session.signin"} {
			if got := a.call("GET", "/api/v1/audit?action="+action, a.viewer, nil, &p); got != 403 || p.Error != "the "+action+" entries need the admin role" {
				t.Errorf("a viewer asking for %s entries: %d %+v", action, got, p)
			}
		}
	})
}

// Every bad filter value is named, and the answer is 400.
func TestAuditBadFilters(t *testing.T) {
	st, err := store.Open(t.TempDir() + "/api.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a := &trustAPI{apiClient: apiClient{t, serve(t, &API{Store: st})}, st: st}
	viewer, _, _ := st.CreateToken("vic", []string{"viewer"}, nil)
	var p Problem
	q := "limit=0&since=yesterday&until=2026-01-01T00:00:00Z&action=run.delete&outcome=maybe&cursor=nope&runbok=x&run=" + strings.Repeat("r", 121)
	if got := a.call("GET", "/api/v1/audit?"+q, viewer, nil, &p); got != 400 || p.Error != "invalid audit query" {
		t.Fatalf("%d %+v", got, p)
	}
	b, _ := json.Marshal(p.Details)
	want := `["runbok: unknown parameter (parameters: run, runbook, actor, action, outcome, since, until, limit, cursor)",` +
		`"run: at most 120 characters",` +
		`"action: unknown action \"run.delete\" (actions: runbook.register, run.start, run.cancel, run.rerun, run.event, approval.vote, step.decision, schedule.pause, schedule.unpause, schedule.trigger, freeze.register, freeze.delete, schedule.skip, token.create, token.revoke, session.signin, session.signout, incident.open, incident.reopen, incident.ack, incident.resolve, incident.note, incident.link)",` +
		`"outcome: \"maybe\" is neither ok nor refused",` +
		`"since: \"yesterday\" is not an RFC 3339 time (e.g. 2026-01-02T15:04:05Z)",` +
		`"limit: \"0\" is not an integer from 1 to 1000",` +
		`"cursor: not a cursor this API gave (use the next of a page)"]`
	if string(b) != want {
		t.Errorf("details:\n%s\nwant\n%s", b, want)
	}
	if got := a.call("GET", "/api/v1/audit?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z&limit=1001", viewer, nil, &p); got != 400 ||
		!reflect.DeepEqual(p.Details, []any{"since: must be before until", `limit: "1001" is not an integer from 1 to 1000`}) {
		t.Errorf("%d %+v", got, p.Details)
	}
	var page auditPage
	if got := a.call("GET", "/api/v1/audit", viewer, nil, &page); got != 200 || page.Entries == nil || len(page.Entries) != 0 {
		t.Errorf("an empty trail: %d %+v", got, page)
	}
}

// serve serves api for the test's length and returns its URL.
func serve(t *testing.T, api *API) string {
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

// runbookHash is a registered runbook's latest hash.
func (a *trustAPI) runbookHash(name string) string {
	v, err := a.st.Runbook(name, 0)
	if err != nil {
		a.t.Fatal(err)
	}
	return v.Hash
}
