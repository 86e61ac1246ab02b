package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/worker"
)

// fuzzTarget is a typed runbook whose one run holds the concurrency key
// and waits for an approval, so fuzzed bodies exercise parsing and
// validation without starting runs or changing state: a valid start is
// 409, a valid vote by the triggering user is 403 (self-approval).
const fuzzTarget = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: fz}
spec:
  params:
    - {name: n, type: int, min: 1, max: 9}
    - {name: s, type: string, pattern: "^[a-z]+$"}
    - {name: xs, type: list, items: string}
    - {name: d, type: duration}
    - {name: b, type: bool}
  concurrency: {onConflict: reject}
  steps:
    - id: gate
      approval: {approvers: ["group:ops"], inputs: [{name: ticket, type: string, required: true}]}
`

type fuzzAPI struct {
	handler http.Handler
	token   string
	run     string
}

var (
	fuzzOnce sync.Once
	fuzzEnv  *fuzzAPI
)

func setupFuzzAPI(t *testing.T) *fuzzAPI {
	c := temporalStack(t)
	fuzzOnce.Do(func() {
		st, err := store.Open(filepath.Join(t.TempDir(), "fuzz.db"))
		if err != nil {
			t.Fatal(err)
		}
		api := &API{Store: st, Temporal: c, TaskQueue: worker.TaskQueue, Catalog: activities.Catalog(),
			Scheduler: &Scheduler{Client: c, TaskQueue: worker.TaskQueue}}
		token, _, _ := st.CreateToken("fuzzer", []string{"admin"}, []string{"ops"})
		f := &fuzzAPI{handler: api.Handler(), token: token}
		if code, b := f.do("POST", "/api/v1/runbooks", []byte(fuzzTarget)); code != 201 {
			t.Fatalf("register: %d %s", code, b)
		}
		code, body := f.do("POST", "/api/v1/runbooks/fz/runs", []byte(`{"params": {"n": 3, "s": "abc", "xs": ["a"], "d": "1h", "b": true}}`))
		var r struct{ ID string }
		if json.Unmarshal(body, &r); code != 201 {
			t.Fatalf("start: %d %s", code, body)
		}
		f.run = r.ID
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if _, b := f.do("GET", "/api/v1/runs/"+f.run, nil); strings.Contains(string(b), `"waiting-approval"`) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the run never waited for its approval")
			}
		}
		fuzzEnv = f
	})
	if fuzzEnv == nil {
		t.Fatal("fuzz API setup failed")
	}
	return fuzzEnv
}

func (f *fuzzAPI) do(method, path string, body []byte) (int, []byte) {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+f.token)
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, req)
	return w.Code, w.Body.Bytes()
}

// FuzzAPIBodies posts arbitrary bodies to the endpoints that read JSON:
// never a 5xx, never a panic, every refusal a {error, details[]} body.
func FuzzAPIBodies(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/bodies/*.json")
	if len(seeds) == 0 {
		f.Fatal("no seed bodies in testdata/bodies")
	}
	for _, file := range seeds {
		body, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for route := range uint8(len(fuzzRoutes)) {
			f.Add(route, body)
		}
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		api := setupFuzzAPI(t)
		r := fuzzRoutes[int(route)%len(fuzzRoutes)]
		path := strings.ReplaceAll(r.path, "RUN", api.run)
		code, out := api.do(r.method, path, body)
		if !slices.Contains(r.codes, code) {
			t.Fatalf("%s %s %q: %d %s", r.method, r.path, body, code, out)
		}
		if code >= 400 {
			var p Problem
			if err := json.Unmarshal(out, &p); err != nil || p.Error == "" || p.Details == nil {
				t.Fatalf("%s %s %q: %d with body %s", r.method, r.path, body, code, out)
			}
		}
	})
}

// fuzzRoutes are the JSON-reading endpoints and the answers each may give.
var fuzzRoutes = []struct {
	method, path string
	codes        []int
}{
	{"POST", "/api/v1/runbooks/fz/runs", []int{400, 409, 422}},
	{"POST", "/api/v1/runs/RUN/approvals/gate", []int{400, 403, 422}},
	{"POST", "/api/v1/runs/RUN/events/nobody-waits", []int{400, 404}},
	{"POST", "/hooks/alertmanager", []int{200, 400, 422}},
}
