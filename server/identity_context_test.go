package server

import (
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsrunbook/runbook/store"
)

// An identity in the request's context (the web console, in process)
// authenticates; roles still apply; without one a bearer token is needed.
func TestIdentityFromContext(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "api.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h := (&API{Store: st}).Handler()
	for _, tc := range []struct {
		name   string
		id     *store.Identity
		method string
		path   string
		want   int
		body   string
	}{
		{"no identity", nil, "GET", "/api/v1/runbooks", 401, `"error":"missing bearer token"`},
		{"a viewer reads", &store.Identity{User: "vic", Roles: []string{"viewer"}}, "GET", "/api/v1/runbooks", 200, `"runbooks":[]`},
		{"a viewer cannot register", &store.Identity{User: "vic", Roles: []string{"viewer"}}, "POST", "/api/v1/runbooks", 403, `"error":"this needs the author role"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(""))
			if tc.id != nil {
				r = r.WithContext(store.WithIdentity(r.Context(), tc.id))
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.want || !strings.Contains(w.Body.String(), tc.body) {
				t.Errorf("%s %s: %d %s, want %d with %s", tc.method, tc.path, w.Code, w.Body, tc.want, tc.body)
			}
		})
	}
}
