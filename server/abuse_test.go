package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/worker"
)

// openSQLite is a SQLite store in the test's directory.
func openSQLite(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "abuse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// httpSeries counts the series of the HTTP request metrics.
func httpSeries(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "runbook_http_requests_total{") || strings.HasPrefix(line, "runbook_http_request_seconds_count{") {
			n++
		}
	}
	return n
}

// Random methods and paths, with or without a token, fold into one
// "OTHER"/"unmatched" series: they cannot grow /metrics.
func TestMetricsLabelsAreBounded(t *testing.T) {
	api := &API{Store: openSQLite(t)}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	send := func(i int) {
		req, _ := http.NewRequest(fmt.Sprintf("M%06d", i), fmt.Sprintf("%s/x/%d", srv.URL, i), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		req, _ = http.NewRequest(fmt.Sprintf("Q%06d", i), srv.URL+"/api/v1/runs", nil)
		if resp, err = http.DefaultClient.Do(req); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	send(0)
	httpSeries(t, srv.URL) // the scrape's own series
	before := httpSeries(t, srv.URL)
	for i := 1; i < 300; i++ {
		send(i)
	}
	if after := httpSeries(t, srv.URL); after != before {
		t.Errorf("300 random methods and paths grew the HTTP series from %d to %d", before, after)
	}
	for _, tt := range []struct{ method, route, wantMethod, wantRoute string }{
		{"GET", "/api/v1/runs/:id", "GET", "/api/v1/runs/:id"},
		{"DELETE", "/api/v1/runs", "DELETE", "unmatched"},
		{"BREW", "/api/v1/runs", "OTHER", "unmatched"},
		{"GET", "/nope/thing", "GET", "unmatched"},
		{"GET", "", "GET", "unmatched"},
	} {
		if m, r := metricLabels(tt.method, tt.route); m != tt.wantMethod || r != tt.wantRoute {
			t.Errorf("metricLabels(%s, %s) = %s %s, want %s %s", tt.method, tt.route, m, r, tt.wantMethod, tt.wantRoute)
		}
	}
}

// Values longer than their columns hold are refused with 422 naming each
// field, on SQLite as on Postgres, and nothing is recorded or started.
func TestTooLongValuesAre422(t *testing.T) {
	c := temporalStack(t)
	eachStore(t, func(t *testing.T, st *store.Store) {
		api := &API{Store: st, Temporal: c, TaskQueue: worker.TaskQueue, Catalog: activities.Catalog()}
		srv := httptest.NewServer(api.Handler())
		defer srv.Close()
		cl := apiClient{t, srv.URL}
		admin, _, _ := st.CreateToken("root", []string{"admin"}, nil)
		src := "apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: keyed}\nspec:\n  params: [{name: who, type: string, required: true}]\n" +
			"  concurrency: {key: params.who, onConflict: reject}\n  steps:\n    - {id: one, action: log, with: {message: hi}}\n"
		if got := cl.call("POST", "/api/v1/runbooks", admin, src, nil); got != 201 {
			t.Fatalf("register: %d", got)
		}
		var p Problem
		var minutes, hours []string
		for i := range 60 {
			minutes = append(minutes, fmt.Sprint(i))
		}
		for i := range 24 {
			hours = append(hours, fmt.Sprint(i))
		}
		cron := strings.Join(minutes, ",") + " " + strings.Join(hours, ",") + " * * *" // 237 characters
		long := "apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: sched}\nspec:\n  schedules:\n    - {name: often, cron: \"" + cron + "\"}\n  steps:\n    - {id: one, action: log, with: {message: hi}}\n"
		if got := cl.call("POST", "/api/v1/runbooks", admin, long, &p); got != 422 || !reflect.DeepEqual(p.Details, []any{"spec.schedules[0].cron: 237 characters, at most 200"}) {
			t.Errorf("a cron of 237 characters: %d %+v", got, p)
		}
		if got := cl.call("GET", "/api/v1/runbooks/sched", admin, nil, nil); got != 404 {
			t.Errorf("the runbook was saved: %d", got)
		}
		if got := cl.call("POST", "/api/v1/runbooks/keyed/runs", admin, map[string]any{"params": map[string]any{"who": strings.Repeat("w", 301)}}, &p); got != 422 ||
			p.Error != "values longer than the database holds" || !reflect.DeepEqual(p.Details, []any{"concurrencyKey: 301 characters, at most 300"}) {
			t.Errorf("a concurrency key of 301 characters: %d %+v", got, p)
		}
		var runs struct{ Runs []store.Run }
		if cl.call("GET", "/api/v1/runs", admin, nil, &runs); len(runs.Runs) != 0 {
			t.Errorf("runs recorded: %+v", runs.Runs)
		}
		alerts := map[string]any{"status": "firing", "alerts": []any{
			map[string]any{"status": "firing", "fingerprint": "fp1", "labels": map[string]any{"alertname": "Fine"}},
			map[string]any{"status": "firing", "fingerprint": strings.Repeat("f", 201), "labels": map[string]any{"alertname": strings.Repeat("a", 501)}},
		}}
		p = Problem{}
		if got := cl.call("POST", "/hooks/alertmanager", admin, alerts, &p); got != 422 || !reflect.DeepEqual(p.Details, []any{
			"alerts[1].fingerprint: 201 characters, at most 200", "alerts[1].labels.alertname: 501 characters, at most 500"}) {
			t.Errorf("an alert too long: %d %+v", got, p)
		}
	})
}

// The unauthenticated webhook route waits for a body at most its read
// timeout (408), and refuses a bad signature without decoding the body or
// the plans again.
func TestWebhookIsCheapToRefuse(t *testing.T) {
	c := temporalStack(t)
	st := openSQLite(t)
	api := &API{Store: st, Temporal: c, TaskQueue: worker.TaskQueue, Catalog: activities.Catalog(),
		Secrets: secretMap{"HOOK_KEY": hookKey}, WebhookReadTimeout: 300 * time.Millisecond}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	cl := apiClient{t, srv.URL}
	admin, _, _ := st.CreateToken("root", []string{"admin"}, nil)
	if got := cl.call("POST", "/api/v1/runbooks", admin, remediation, nil); got != 201 {
		t.Fatalf("register: %d", got)
	}

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	fmt.Fprintf(conn, "POST /hooks/webhook/grafana HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"state\":")
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a body that never arrives: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 408 || time.Since(start) > 2*time.Second || !strings.Contains(string(b), `"error":"the body did not arrive within 300ms","details":["send the whole request at once"]`) {
		t.Errorf("a body that never arrives: %d after %s: %s", resp.StatusCode, time.Since(start), b)
	}

	first, err := api.triggered("webhook")
	if err != nil || len(first) != 1 {
		t.Fatalf("triggered: %v %v", first, err)
	}
	for i := range 20 {
		var p Problem
		got := cl.call("POST", "/hooks/webhook/grafana", "", "not JSON at all", &p, "X-Signature-256", fmt.Sprintf("t=%d,id=d%d,v1=%064d", time.Now().Unix(), i, 0))
		if got != 401 || p.Error != "webhook grafana: signature does not verify" {
			t.Fatalf("a bad signature: %d %+v", got, p)
		}
	}
	if again, _ := api.triggered("webhook"); len(again) != 1 || again[0].plan != first[0].plan || again[0].ev != nil {
		t.Errorf("the plan was decoded again, or its expressions prepared, for refused deliveries")
	}
}

// /openapi.json states the limits: the answers past them and x-limits.
func TestOpenAPIStatesLimits(t *testing.T) {
	doc := OpenAPI()
	op := func(path, method string) map[string]any {
		return doc["paths"].(map[string]any)[path].(map[string]any)[method].(map[string]any)["responses"].(map[string]any)
	}
	for _, tt := range []struct{ path, method, code string }{
		{"/api/v1/runs/{id}/events", "get", "429"},
		{"/api/v1/runs/{id}/events", "get", "503"},
		{"/hooks/webhook/{name}", "post", "408"},
		{"/hooks/alertmanager", "post", "422"},
		{"/api/v1/runbooks/{name}/runs", "post", "422"},
		{"/readyz", "get", "503"},
	} {
		if op(tt.path, tt.method)[tt.code] == nil {
			t.Errorf("%s %s lacks %s", tt.method, tt.path, tt.code)
		}
	}
	if op("/healthz", "get")["503"] != nil {
		t.Errorf("/healthz answers no 503")
	}
	limits := doc["x-limits"].(map[string]Limit)
	for name, want := range map[string]Limit{
		"concurrencyKey":     {Value: 300, Unit: "characters", Status: 422, Description: "a run's concurrency key"},
		"alertName":          {Value: 500, Unit: "characters", Status: 422, Description: "an alert's alertname (the run's triggerDetail)"},
		"streamsPerToken":    {Value: DefaultStreamsPerToken, Unit: "count", Status: 429, Description: "open event streams of one token (or of one console session without a token)"},
		"queryTimeout":       {Value: "5s", Unit: "duration", Status: 503, Description: "a database statement or transaction (RUNBOOK_DB_TIMEOUT)"},
		"webhookReadTimeout": {Value: "10s", Unit: "duration", Status: 408, Description: "a webhook delivery's body"},
	} {
		if limits[name] != want {
			t.Errorf("x-limits[%s] = %+v, want %+v", name, limits[name], want)
		}
	}
}
