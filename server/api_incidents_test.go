package server

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/workflows"
)

const incidentRemediation = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: restart-api}
spec:
  params: [{name: service, type: string, required: true}]
  triggers:
    - alertmanager:
        match: "alert.status == 'firing' && alert.labels.alertname == 'ApiDown'"
        params: {service: "alert.labels.service"}
        onResolved: cancel
  steps:
    - id: gate
      approval: {approvers: ["group:board"], timeout: 10m}
`

const incidentProbe = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: probe}
spec:
  steps:
    - {id: note, action: log, with: {message: "incident ${{ run.incident }}"}}
  outputs: {incident: run.incident}
`

// group is an Alertmanager group notification.
func group(status string, startsAt time.Time) map[string]any {
	return map[string]any{"status": status, "groupKey": `{}:{alertname="ApiDown"}`,
		"commonLabels":      map[string]any{"alertname": "ApiDown", "service": "api", "severity": "critical"},
		"commonAnnotations": map[string]any{"summary": "API <b>down</b> | 5xx"},
		"alerts": []any{map[string]any{"status": status, "fingerprint": "fp-api", "startsAt": startsAt,
			"labels": map[string]any{"alertname": "ApiDown", "service": "api", "severity": "critical"}}}}
}

type incidentAnswer struct {
	incidentView
	Runs    []incidentRunView `json:"runs"`
	Outcome string            `json:"outcome"`
}

type hookIncidentAnswer struct {
	Runs      []hookResult `json:"runs"`
	Incident  hookIncident `json:"incident"`
	Cancelled []string     `json:"cancelled"`
}

// An Alertmanager group opens an incident and starts its remediation run;
// resolved, the incident is resolved with its MTTR and the run cancelled
// (onResolved: cancel); firing again reopens it. Through the API, on the
// embedded Temporal server.
func TestIncidentsFromAlertmanager(t *testing.T) {
	c := temporalStack(t)
	eachStore(t, func(t *testing.T, st *store.Store) {
		a := newTrustAPI(t, c, st)
		a.register(incidentRemediation, 201)
		a.register(incidentProbe, 201)
		at := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)

		var fired hookIncidentAnswer
		if got := a.call("POST", "/hooks/alertmanager", a.am, group("firing", at), &fired); got != 200 {
			t.Fatalf("firing: %d", got)
		}
		if fired.Incident.Outcome != "opened" || fired.Incident.ID == 0 || len(fired.Runs) != 1 || fired.Runs[0].Outcome != "started" {
			t.Fatalf("firing: %+v", fired)
		}
		id, run := fired.Incident.ID, fired.Runs[0].Run
		path := "/api/v1/incidents/" + itoa(id)
		var inc incidentAnswer
		inc = incidentAnswer{}
		a.call("GET", path, a.viewer, nil, &inc)
		if inc.Title != "API <b>down</b> | 5xx" || inc.Severity != "critical" || inc.Service != "api" || inc.Source != "alertmanager" ||
			inc.Status != store.IncidentMitigating || inc.OpenedBy != "alertmanager" || inc.TTASeconds == nil || inc.AckedBy != "alertmanager" {
			t.Errorf("incident after the firing: %+v", inc)
		}
		if len(inc.Runs) != 1 || inc.Runs[0].Run != run || inc.Runs[0].Runbook != "restart-api" {
			t.Errorf("its runs: %+v", inc.Runs)
		}
		a.waiting(run)

		// Responders' notes, bounded.
		if got := a.call("POST", path+"/notes", a.ann, map[string]any{"text": "looking at the <script> logs"}, nil); got != 201 {
			t.Errorf("note: %d", got)
		}
		for _, bad := range []struct {
			body any
			want int
			msg  string
		}{
			{map[string]any{"text": "  "}, 422, "text: required"},
			{map[string]any{"text": strings.Repeat("x", MaxNote+1)}, 413, "text is 4097 bytes; at most 4096"},
			{map[string]any{"txt": "typo"}, 400, "the body has an unknown field \"txt\""},
		} {
			var p Problem
			if got := a.call("POST", path+"/notes", a.ann, bad.body, &p); got != bad.want || p.Error != bad.msg {
				t.Errorf("note %v: %d %q, want %d %q", bad.body, got, p.Error, bad.want, bad.msg)
			}
		}
		if got := a.call("POST", path+"/notes", a.viewer, map[string]any{"text": "hi"}, nil); got != 403 {
			t.Errorf("a viewer's note: %d", got)
		}
		var p Problem
		if got := a.call("POST", path+"/ack", a.ann, nil, &p); got != 409 || p.Error != "the incident is already mitigating" {
			t.Errorf("ack after its run: %d %+v", got, p)
		}

		// Resolved: the incident with its MTTR, the run cancelled.
		var resolved hookIncidentAnswer
		a.call("POST", "/hooks/alertmanager", a.am, group("resolved", at), &resolved)
		if resolved.Incident.Outcome != "resolved" || resolved.Incident.Status != store.IncidentResolved || len(resolved.Cancelled) != 1 || resolved.Cancelled[0] != run {
			t.Fatalf("resolved: %+v", resolved)
		}
		inc = incidentAnswer{}
		a.call("GET", path, a.viewer, nil, &inc)
		if inc.Status != store.IncidentResolved || inc.ResolvedAt == nil || inc.TTRSeconds == nil || *inc.TTRSeconds < 0 || inc.ResolvedBy != "alertmanager" {
			t.Errorf("incident after the resolution: %+v", inc)
		}
		waitFor(t, func() bool {
			var v runView
			a.call("GET", "/api/v1/runs/"+run, a.viewer, nil, &v)
			return v.Status == workflows.RunCancelled
		})

		// Firing again reopens it, and its new run is linked.
		var refired hookIncidentAnswer
		a.call("POST", "/hooks/alertmanager", a.am, group("firing", at.Add(30*time.Second)), &refired)
		if refired.Incident.ID != id || refired.Incident.Outcome != "reopened" || refired.Incident.Status != store.IncidentMitigating ||
			len(refired.Runs) != 1 || refired.Runs[0].Outcome != "started" || refired.Runs[0].Run == run {
			t.Fatalf("re-fire: %+v", refired)
		}
		inc = incidentAnswer{}
		a.call("GET", path, a.viewer, nil, &inc)
		if inc.Reopens != 1 || inc.ResolvedAt != nil || len(inc.Runs) != 2 {
			t.Errorf("reopened: %+v", inc)
		}

		// A run started by hand for it sees run.incident.
		var probe runView
		if got := a.call("POST", "/api/v1/runbooks/probe/runs", a.ann, map[string]any{"incident": id}, &probe); got != 201 {
			t.Fatalf("start with incident: %d", got)
		}
		waitFor(t, func() bool {
			a.call("GET", "/api/v1/runs/"+probe.ID, a.viewer, nil, &probe)
			return probe.Status == workflows.RunSucceeded
		})
		if probe.Outputs["incident"] != float64(id) || len(probe.Incidents) != 1 || probe.Incidents[0] != id {
			t.Errorf("run.incident: %v", probe.Outputs)
		}
		if got := a.call("POST", "/api/v1/runbooks/probe/runs", a.ann, map[string]any{"incident": 9999}, &p); got != 422 || p.Error != "incident: no incident 9999" {
			t.Errorf("start for no incident: %d %+v", got, p)
		}

		// A runbook step (or a responder) resolves it through the API.
		inc = incidentAnswer{}
		if got := a.call("POST", path+"/resolve", a.bob, map[string]any{"reason": "rolled back"}, &inc); got != 200 || inc.Status != store.IncidentResolved || inc.ResolvedBy != "bob" {
			t.Errorf("resolve: %d %+v", got, inc)
		}
		if got := a.call("POST", path+"/resolve", a.bob, nil, &p); got != 409 || p.Error != "the incident is already resolved" {
			t.Errorf("resolve again: %d %+v", got, p)
		}

		// The timeline interleaves alerts, status changes, notes, runs,
		// steps and votes; the Markdown export escapes what users wrote.
		var tl timelineView
		a.call("GET", path+"/timeline", a.viewer, nil, &tl)
		kinds := map[string]int{}
		for _, e := range tl.Entries {
			kinds[e.Kind]++
		}
		if kinds["alert"] != 3 || kinds["note"] != 1 || kinds["run"] != 3 || kinds["run.start"] != 3 || kinds["status"] < 5 {
			t.Errorf("timeline kinds: %v", kinds)
		}
		for i := 1; i < len(tl.Entries); i++ {
			if tl.Entries[i].At.Before(tl.Entries[i-1].At) {
				t.Errorf("timeline out of order at %d: %+v", i, tl.Entries[i])
			}
		}
		md := a.raw(path+"/timeline?format=markdown", a.viewer)
		for _, want := range []string{"# Incident " + itoa(id) + ": API &lt;b&gt;down&lt;/b&gt; \\| 5xx\n", "| status | resolved |",
			"| note | ann |  | looking at the &lt;script&gt; logs |", "| run.start | alertmanager |", "| resolved | "} {
			if !strings.Contains(md, want) {
				t.Errorf("markdown lacks %q:\n%s", want, md)
			}
		}
		if strings.Contains(md, "<script>") || strings.Contains(md, "<b>") {
			t.Errorf("markdown carries raw HTML:\n%s", md)
		}

		// Lists page, stats aggregate, metrics count per service.
		var opened incidentAnswer
		if got := a.call("POST", "/api/v1/incidents", a.ann, map[string]any{"title": "disk full", "service": "db", "severity": "warning"}, &opened); got != 201 || opened.Outcome != "opened" || opened.Source != "api" {
			t.Errorf("open by hand: %d %+v", got, opened)
		}
		if got := a.call("POST", "/api/v1/incidents", a.ann, map[string]any{"service": strings.Repeat("s", 201)}, &p); got != 422 ||
			strings.Join(detailStrings(p), "; ") != "title: required; service: 201 characters, at most 200" {
			t.Errorf("open without a title: %d %+v", got, p)
		}
		var page struct {
			Incidents []incidentView `json:"incidents"`
			Next      string         `json:"next"`
		}
		a.call("GET", "/api/v1/incidents?limit=1", a.viewer, nil, &page)
		if len(page.Incidents) != 1 || page.Incidents[0].ID != opened.ID || page.Next == "" {
			t.Fatalf("first page: %+v", page)
		}
		a.call("GET", "/api/v1/incidents?limit=1&cursor="+page.Next, a.viewer, nil, &page)
		if len(page.Incidents) != 1 || page.Incidents[0].ID != id || page.Next != "" {
			t.Errorf("second page: %+v", page)
		}
		if got := a.call("GET", "/api/v1/incidents?status=closed&limit=0&stauts=x", a.viewer, nil, &p); got != 400 || len(p.Details) != 3 {
			t.Errorf("bad filters: %d %+v", got, p)
		}
		var stats struct {
			Overall  incidentStats   `json:"overall"`
			Services []incidentStats `json:"services"`
		}
		a.call("GET", "/api/v1/incidents/stats", a.viewer, nil, &stats)
		if stats.Overall.Incidents != 2 || len(stats.Services) != 2 || stats.Services[0].Service != "api" || stats.Services[0].Resolved != 1 ||
			stats.Services[0].MTTRSeconds == nil || stats.Services[0].MTTASeconds == nil || stats.Services[1].MTTRSeconds != nil {
			t.Errorf("stats: %+v", stats)
		}
		rec := httptest.NewRecorder()
		a.api.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		for _, want := range []string{`runbook_incident_resolve_seconds_count{service="api"}`, `runbook_incident_ack_seconds_count{service="api"}`,
			`runbook_incidents_opened_total{service="db",severity="warning"}`, `runbook_incidents_reopened_total{service="api"}`} {
			if !strings.Contains(rec.Body.String(), want) {
				t.Errorf("metrics lack %s", want)
			}
		}

		// Every change is audited with its caller.
		var actions []string
		for _, e := range a.audit(a.viewer, "limit=1000").Entries {
			if strings.HasPrefix(e.Action, "incident.") && strings.HasSuffix(e.Target, "/"+itoa(id)) {
				actions = append(actions, summary(e))
			}
		}
		want := []string{"bob incident.resolve refused: the incident is already resolved; status: resolved", "bob incident.resolve ok",
			"ann incident.link ok", "alertmanager incident.link ok", "alertmanager incident.reopen ok", "alertmanager incident.resolve ok",
			"ann incident.ack refused: the incident is already mitigating; status: mitigating",
			"ann incident.note refused: the body has an unknown field \"txt\"; fields: text", "ann incident.note refused: text is 4097 bytes; at most 4096; field: text, limit: 4096, size: 4097",
			"ann incident.note refused: text: required; a note's text is 1 to 4096 bytes", "ann incident.note ok",
			"alertmanager incident.link ok", "alertmanager incident.open ok"}
		if strings.Join(actions, "\n") != strings.Join(want, "\n") {
			t.Errorf("audit:\n%s", strings.Join(actions, "\n"))
		}
	})
}

func itoa(n uint) string { return strconv.FormatUint(uint64(n), 10) }

func detailStrings(p Problem) []string {
	out := make([]string, len(p.Details))
	for i, d := range p.Details {
		out[i], _ = d.(string)
	}
	return out
}

// raw GETs path and returns the body.
func (a *trustAPI) raw(path, token string) string {
	a.t.Helper()
	req, _ := http.NewRequest("GET", a.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/markdown") {
		a.t.Errorf("GET %s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return string(b)
}

const incidentHook = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: page-db}
spec:
  secrets: [HOOK_KEY]
  params: [{name: state, type: string, required: true}]
  triggers:
    - webhook:
        name: pager
        secret: HOOK_KEY
        signedHeaders: [X-Team]
        match: "body.kind == 'db'"
        params: {state: "body.state"}
        incident:
          key: "body.id"
          title: "'db: ' + body.summary"
          service: "headers['x-team']"
          resolved: "body.state == 'ok'"
  steps:
    - {id: note, action: log, with: {message: "${{ params.state }} for incident ${{ run.incident }}"}}
`

// A signed webhook whose trigger has incident opens, resolves and
// reopens an incident, as system:webhook, and links its runs.
func TestIncidentsFromSignedWebhook(t *testing.T) {
	c := temporalStack(t)
	eachStore(t, func(t *testing.T, st *store.Store) {
		a := newTrustAPI(t, c, st)
		a.api.Secrets = secretMap{"HOOK_KEY": hookKey}
		a.register(incidentHook, 201)
		n := 0
		post := func(state string) hookIncidentAnswer {
			t.Helper()
			n++
			body := `{"kind": "db", "id": "INC-7", "summary": "replica <lag>", "state": "` + state + `"}`
			var out struct {
				Runs []hookResult `json:"runs"`
			}
			if got := a.call("POST", "/hooks/webhook/pager", "", body, &out, "X-Team", "storage",
				"X-Signature-256", Sign([]byte(hookKey), []byte(body), time.Now(), "d-"+strconv.Itoa(n), "X-Team", "storage")); got != 200 || len(out.Runs) != 1 || out.Runs[0].Incident == nil {
				t.Fatalf("delivery %d: %d %+v", n, got, out)
			}
			return hookIncidentAnswer{Runs: out.Runs, Incident: *out.Runs[0].Incident}
		}
		fired := post("down")
		if fired.Incident.Outcome != "opened" || fired.Incident.Status != store.IncidentMitigating || fired.Runs[0].Outcome != "started" {
			t.Fatalf("firing: %+v", fired)
		}
		var inc incidentAnswer
		a.call("GET", "/api/v1/incidents/"+itoa(fired.Incident.ID), a.viewer, nil, &inc)
		if inc.Source != "webhook" || inc.Key != "pager:INC-7" || inc.Title != "db: replica <lag>" || inc.Service != "storage" ||
			inc.OpenedBy != SystemWebhook || len(inc.Runs) != 1 || inc.Runs[0].Run != fired.Runs[0].Run {
			t.Errorf("incident: %+v", inc)
		}
		if r := post("ok"); r.Incident.ID != fired.Incident.ID || r.Incident.Outcome != "resolved" || r.Incident.Status != store.IncidentResolved {
			t.Errorf("resolved: %+v", r)
		}
		if r := post("down"); r.Incident.ID != fired.Incident.ID || r.Incident.Outcome != "reopened" {
			t.Errorf("re-fired: %+v", r)
		}
	})
}

// incident's expressions are checked when the runbook is registered.
func TestIncidentWebhookLint(t *testing.T) {
	st, err := store.Open(t.TempDir() + "/lint.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a := newTrustAPI(t, temporalStack(t), st)
	for _, tc := range []struct{ from, to, want string }{
		{`key: "body.id"`, `key: "size(body)"`, "spec.triggers[0].webhook.incident.key"},
		{`service: "headers['x-team']"`, `service: "headers['x-other']"`, `header "x-other" is not signed`},
		{`resolved: "body.state == 'ok'"`, `resolved: "'yes'"`, "spec.triggers[0].webhook.incident.resolved"},
	} {
		var p Problem
		src := strings.Replace(strings.Replace(incidentHook, tc.from, tc.to, 1), "page-db", "page-db-bad", 1)
		if got := a.call("POST", "/api/v1/runbooks", a.author, src, &p); got != 422 || !strings.Contains(fmt.Sprint(p.Details), tc.want) {
			t.Errorf("%s: %d %+v", tc.to, got, p)
		}
	}
}

const selfHeal = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: self-heal}
spec:
  secrets: [INCIDENT_TOKEN]
  params: [{name: api, type: string, required: true}]
  steps:
    - id: resolve
      action: http.request
      with:
        url: "${{ params.api }}/api/v1/incidents/${{ run.incident }}/resolve"
        method: POST
        headers: {Authorization: "Bearer ${{ secrets.INCIDENT_TOKEN }}"}
        json: {reason: "self-heal done"}
`

// A runbook step resolves the incident its run was started for, through
// the API, with a token from a secret.
func TestIncidentResolvedByAStep(t *testing.T) {
	c := temporalStack(t)
	st, err := store.Open(t.TempDir() + "/step.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a := newTrustAPI(t, c, st)
	a.register(selfHeal, 201)
	token, _, err := st.CreateToken("healer", []string{"operator"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("RUNBOOK_SECRET_INCIDENT_TOKEN", token)
	var inc incidentAnswer
	a.call("POST", "/api/v1/incidents", a.ann, map[string]any{"title": "queue stuck"}, &inc)
	var run runView
	if got := a.call("POST", "/api/v1/runbooks/self-heal/runs", a.ann, map[string]any{"params": map[string]any{"api": a.url}, "incident": inc.ID}, &run); got != 201 {
		t.Fatalf("start: %d", got)
	}
	waitFor(t, func() bool {
		a.call("GET", "/api/v1/runs/"+run.ID, a.viewer, nil, &run)
		return workflows.Ended(run.Status)
	})
	id := inc.ID
	inc = incidentAnswer{}
	a.call("GET", "/api/v1/incidents/"+itoa(id), a.viewer, nil, &inc)
	if run.Status != workflows.RunSucceeded || inc.Status != store.IncidentResolved || inc.ResolvedBy != "healer" || inc.TTRSeconds == nil {
		t.Errorf("run %s %s; incident %+v", run.Status, run.Error, inc)
	}
}
