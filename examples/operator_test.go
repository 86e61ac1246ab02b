package examples_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opsrunbook/runbook/plan"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/server"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/worker"
)

// valueParams are the examples' params that take free text and reach no
// program, script or path: a URL to probe, hosts to check, a PromQL query,
// PEM certificates. An operator may choose them.
var valueParams = map[string]bool{"capacity-forecast.prometheus_url": true, "capacity-forecast.usage_query": true,
	"change-release.health_url": true, "incident-service-down.health_url": true, "tls-expiry-check.hosts": true, "tls-expiry-check.ca": true}

// An operator-only token posts a command-bearing value for every param of
// every example through the API: each param that reaches a program, a
// script or a path refuses it with 422 and records no run; the others are
// the value params above.
func TestOperatorCannotChooseCode(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "runbook.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := startStack(t).client
	api := &server.API{Store: st, Temporal: c, TaskQueue: worker.TaskQueue, Catalog: activities.Catalog(), Scheduler: &server.Scheduler{Client: c, TaskQueue: worker.TaskQueue}}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	admin, _, _ := st.CreateToken("root", []string{"admin"}, nil)
	operator, _, _ := st.CreateToken("oscar", []string{"operator"}, nil)
	post := func(token, path, contentType string, body []byte) (int, server.Problem) {
		req, _ := http.NewRequest("POST", srv.URL+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", contentType)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var p server.Problem
		_ = json.NewDecoder(resp.Body).Decode(&p)
		return resp.StatusCode, p
	}
	files, _ := filepath.Glob("*.yaml")
	accepted, refused := 0, 0
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if code, p := post(admin, "/api/v1/runbooks", "application/yaml", src); code != 201 {
			t.Fatalf("register %s: %d %+v", file, code, p)
		}
		p := example(t, file)
		for _, pp := range p.Params {
			attack := map[string]any{}
			for k, v := range previewParams[p.Name] {
				attack[k] = v
			}
			switch pp.Type.Kind {
			case plan.KindString:
				attack[pp.Name] = "/bin/sh"
			case plan.KindList:
				attack[pp.Name] = []any{"/bin/sh", "-c", "id > /tmp/pwned"}
			default:
				continue // numbers, bools and durations carry no code
			}
			body, _ := json.Marshal(map[string]any{"params": attack})
			code, prob := post(operator, "/api/v1/runbooks/"+p.Name+"/runs", "application/json", body)
			if valueParams[p.Name+"."+pp.Name] {
				if code != 201 {
					t.Errorf("%s: value param %s: %d %+v", file, pp.Name, code, prob)
				}
				accepted++
				continue
			}
			if code != 422 || !slices.ContainsFunc(prob.Details, func(d any) bool { s, _ := d.(string); return strings.Contains(s, `"`+pp.Name+`"`) }) {
				t.Errorf("%s: operator sets %s to a command: %d %+v, want 422 naming the param", file, pp.Name, code, prob)
			}
			refused++
		}
	}
	runs, _, _ := st.Runs(store.RunFilter{Limit: 100})
	if len(runs) != accepted || refused < 8 {
		t.Errorf("%d runs recorded for %d accepted starts (%d refused)", len(runs), accepted, refused)
	}
	for _, r := range runs {
		_ = c.CancelWorkflow(context.Background(), r.ID, "")
	}
}
