package server

import (
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/diff"
	"github.com/opsrunbook/runbook/store"
)

func TestRunbookDiff(t *testing.T) {
	eachStore(t, func(t *testing.T, st *store.Store) {
		api := &API{Store: st, Catalog: activities.Catalog()}
		srv := httptest.NewServer(api.Handler())
		defer srv.Close()
		cl := apiClient{t, srv.URL}
		author, _, err := st.CreateToken("alice", []string{"author", "viewer"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		viewer, _, _ := st.CreateToken("vic", []string{"viewer"}, nil)
		v1 := "apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: d}\nspec:\n  params: [{name: who, type: string, default: world}]\n  steps:\n    - {id: a, action: log, with: {message: hi}}\n    - {id: b, sleep: 1s}\n"
		v2 := strings.Replace(strings.Replace(v1, "sleep: 1s", "sleep: 2s", 1), "    - {id: a,", "    - {id: z, action: log, with: {message: new}}\n    - {id: a,", 1)
		for _, src := range []string{v1, v2} {
			if got := cl.call("POST", "/api/v1/runbooks", author, src, nil); got != 201 {
				t.Fatalf("register: %d", got)
			}
		}
		var d diffView
		if got := cl.call("GET", "/api/v1/runbooks/d/diff", viewer, nil, &d); got != 200 {
			t.Fatalf("diff: %d", got)
		}
		wantUnified := `--- d v1
+++ d v2
@@ -4,5 +4,6 @@
 spec:
   params: [{name: who, type: string, default: world}]
   steps:
+    - {id: z, action: log, with: {message: new}}
     - {id: a, action: log, with: {message: hi}}
-    - {id: b, sleep: 1s}
+    - {id: b, sleep: 2s}
`
		want := diff.Changes{Steps: diff.Set{Added: []string{"z"}, Removed: []string{}, Changed: []diff.Changed{{Name: "b", Fields: []string{"sleep"}}}},
			Params: diff.Set{Added: []string{}, Removed: []string{}, Changed: []diff.Changed{}}, Fields: []string{}}
		if d.Runbook != "d" || d.From != 1 || d.To != 2 || d.Unified != wantUnified || !reflect.DeepEqual(d.Changes, want) || d.FromHash == d.ToHash {
			t.Errorf("diff:\n%+v\n%s", d, d.Unified)
		}
		var back diffView
		if cl.call("GET", "/api/v1/runbooks/d/diff?from=2&to=1", viewer, nil, &back); back.From != 2 || back.To != 1 || !reflect.DeepEqual(back.Changes.Steps.Removed, []string{"z"}) {
			t.Errorf("reverse diff: %+v", back)
		}
		var same diffView
		if cl.call("GET", "/api/v1/runbooks/d/diff?from=2&to=2", viewer, nil, &same); same.Unified != "" || !same.Changes.Empty() {
			t.Errorf("a version against itself: %+v", same)
		}
		for q, want := range map[string]struct {
			code int
			msg  string
		}{
			"/api/v1/runbooks/d/diff?from=0":      {400, "from must be a version number, 1 or more"},
			"/api/v1/runbooks/d/diff?to=x":        {400, "to must be a version number, 1 or more"},
			"/api/v1/runbooks/d/diff?from=1&to=7": {404, "runbook d has no version 7 (the latest is v2)"},
			"/api/v1/runbooks/d/diff?to=1":        {404, "runbook d has no version before v1 to compare it with"},
			"/api/v1/runbooks/nope/diff":          {404, "no runbook nope"},
		} {
			var p Problem
			if got := cl.call("GET", q, viewer, nil, &p); got != want.code || p.Error != want.msg {
				t.Errorf("%s: %d %q, want %d %q", q, got, p.Error, want.code, want.msg)
			}
		}
		if got := cl.call("GET", "/api/v1/runbooks/d/diff", "", nil, nil); got != 401 {
			t.Errorf("no token: %d", got)
		}
		op := OpenAPI()["paths"].(map[string]any)["/api/v1/runbooks/{name}/diff"].(map[string]any)["get"].(map[string]any)
		if ps := op["parameters"].([]any); len(ps) != 3 || op["description"] != "Needs the viewer role." {
			t.Errorf("the OpenAPI document of the diff: %v", op)
		}
	})
}
