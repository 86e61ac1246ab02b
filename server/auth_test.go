package server

import (
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/worker"
)

// Every route that needs a role answers 401 without a token and with a
// revoked or an expired one, 403 to a token without the role, and lets the role in
// (operator, approver and author hold viewer too).
func TestAuthOnEveryRoute(t *testing.T) {
	c := temporalStack(t)
	st, err := store.Open(filepath.Join(t.TempDir(), "auth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	api := &API{Store: st, Temporal: c, TaskQueue: worker.TaskQueue, Catalog: activities.Catalog(),
		Scheduler: &Scheduler{Client: c, TaskQueue: worker.TaskQueue}}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	cl := apiClient{t, srv.URL}

	revoked, tok, _ := st.CreateToken("rita", []string{"admin"}, nil)
	if _, err := st.RevokeToken("root", tok.ID); err != nil {
		t.Fatal(err)
	}
	expired, _, err := st.IssueToken("root", store.TokenSpec{User: "ed", Roles: []string{"admin"}, TTL: "10ms"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	holders := map[string]string{}
	for _, role := range store.Roles {
		holders[role], _, _ = st.CreateToken("has-"+role, []string{role}, nil)
	}
	param := regexp.MustCompile(`:[a-z]+`)
	checked := 0
	for _, r := range routeTable() {
		if r.role == "" {
			continue
		}
		path := param.ReplaceAllString(r.path, "nope")
		if got := cl.call(r.method, path, "", nil, nil); got != 401 {
			t.Errorf("%s %s without a token: %d", r.method, r.path, got)
		}
		if got := cl.call(r.method, path, revoked, nil, nil); got != 401 {
			t.Errorf("%s %s with a revoked token: %d", r.method, r.path, got)
		}
		if got := cl.call(r.method, path, expired, nil, nil); got != 401 {
			t.Errorf("%s %s with an expired token: %d", r.method, r.path, got)
		}
		for _, role := range store.Roles {
			got := cl.call(r.method, path, holders[role], "{}", nil)
			implied := r.role == "viewer" && slices.Contains([]string{"operator", "approver", "author"}, role)
			switch allowed := role == r.role || role == "admin" || implied; {
			case !allowed && got != 403:
				t.Errorf("%s %s as %s: %d, want 403", r.method, r.path, role, got)
			case allowed && slices.Contains([]int{401, 403}, got):
				t.Errorf("%s %s as %s: %d", r.method, r.path, role, got)
			}
		}
		checked++
	}
	if checked == 0 {
		t.Error("no route needs a role")
	}
}
