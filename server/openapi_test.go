package server

import (
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/opsrunbook/runbook/runbooks"
	"github.com/opsrunbook/runbook/store"
)

func TestOpenAPICoversEveryRouteAndMetricsCount(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "o.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	api := &API{Store: st}
	e := api.Handler()
	srv := httptest.NewServer(e)
	defer srv.Close()
	cl := apiClient{t, srv.URL}
	var doc map[string]any
	if got := cl.call("GET", "/openapi.json", "", nil, &doc); got != 200 {
		t.Fatalf("openapi: %d", got)
	}
	paths := doc["paths"].(map[string]any)
	param := regexp.MustCompile(`:([a-z]+)`)
	for _, r := range e.Routes() {
		p := param.ReplaceAllString(r.Path, "{$1}")
		ops, ok := paths[p].(map[string]any)
		if !ok || ops[strings.ToLower(r.Method)] == nil {
			t.Errorf("%s %s is not in the OpenAPI document", r.Method, r.Path)
		}
	}
	if got := cl.call("GET", "/api/v1/runs", "", nil, nil); got != 401 {
		t.Errorf("runs without a token: %d", got)
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{`runbook_http_requests_total{method="GET",route="/openapi.json",status="200"}`, `route="/api/v1/runs",status="401"`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// The document lists the diagnostic codes runbooks reports, no more, no fewer.
func TestOpenAPIListsDiagnosticCodes(t *testing.T) {
	d := OpenAPI()["components"].(map[string]any)["schemas"].(map[string]any)["Diagnostic"].(map[string]any)
	enum := d["properties"].(map[string]any)["code"].(map[string]any)["enum"].([]string)
	if len(enum) != len(runbooks.Codes) {
		t.Fatalf("codes %v, want %v", enum, runbooks.Codes)
	}
	for i, c := range runbooks.Codes {
		if enum[i] != string(c) {
			t.Errorf("code %d is %q, want %q", i, enum[i], c)
		}
	}
}

// The caps on what callers put in a run's history are in the document.
func TestOpenAPIListsLimits(t *testing.T) {
	op := OpenAPI()["paths"].(map[string]any)["/api/v1/runs/{id}/events/{name}"].(map[string]any)["post"].(map[string]any)
	want := "payload at most 65536 bytes of JSON (413); at most 16 events of one name held for steps not yet waiting (429, reason TooManyEvents); a name no waitFor step of the runbook waits for is 404 (reason UnknownEvent)"
	if op["x-limits"] != want || op["responses"].(map[string]any)["413"] == nil {
		t.Errorf("the event route's limits: %v", op["x-limits"])
	}
}
