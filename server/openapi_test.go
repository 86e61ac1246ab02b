package server

import (
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"reflect"
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
	// Through JSON, as a client reads it: one shape, the Limit schema's.
	b, err := json.Marshal(OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Limits map[string]Limit `json:"x-limits"`
		Paths  map[string]map[string]struct {
			Limits    map[string]Limit `json:"x-limits"`
			Responses map[string]struct {
				Description string `json:"description"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	ev := doc.Paths["/api/v1/runs/{id}/events/{name}"]["post"]
	want := map[string]Limit{
		"payload":        {Value: 65536.0, Unit: "bytes", Status: 413, Description: "the event's payload, as JSON"},
		"bufferedEvents": {Value: 16.0, Unit: "count", Status: 429, Description: "events of one name held for steps not yet waiting (reason TooManyEvents)"},
	}
	if !reflect.DeepEqual(ev.Limits, want) {
		t.Errorf("the event route's limits: %+v", ev.Limits)
	}
	if got := ev.Responses["413"].Description; got != "Past a limit (x-limits): payload at most 65536 bytes" {
		t.Errorf("413: %q", got)
	}
	if doc.Limits["maxBody"].Value != float64(MaxBody) || doc.Limits["maxBody"].Unit != "bytes" {
		t.Errorf("top-level maxBody: %+v", doc.Limits["maxBody"])
	}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			for name, l := range op.Limits {
				if l.Unit == "" || l.Description == "" || l.Value == nil {
					t.Errorf("%s %s x-limits[%s] = %+v: not a Limit", method, path, name, l)
				}
			}
		}
	}
}
