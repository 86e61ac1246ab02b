package server

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/store"
)

// Tokens through the admin API: made with a TTL they work until it
// passes, then answer 401 at once; revoked, at once too; the list shows
// their last use and never a secret; bad requests list every problem and
// make nothing; every change is audited as the caller.
func TestTokenLifeCycleThroughTheAPI(t *testing.T) {
	eachStore(t, func(t *testing.T, st *store.Store) {
		srv := httptest.NewServer((&API{Store: st}).Handler())
		defer srv.Close()
		cl := apiClient{t, srv.URL}
		root, _, _ := st.CreateToken("root", []string{"admin"}, nil)

		var ann createdToken
		before := time.Now()
		req := map[string]any{"user": "ann", "roles": []string{"operator", "viewer"}, "groups": []string{"change-board"}, "ttl": "2s"}
		if got := cl.call("POST", "/api/v1/tokens", root, req, &ann); got != 201 {
			t.Fatalf("create: %d", got)
		}
		if !strings.HasPrefix(ann.Secret, "rbk_") || ann.Prefix != ann.Secret[:12] || ann.User != "ann" || ann.State != "active" ||
			!reflect.DeepEqual(ann.Roles, []string{"operator", "viewer"}) || !reflect.DeepEqual(ann.Groups, []string{"change-board"}) ||
			ann.ExpiresAt == nil || ann.ExpiresAt.Before(before.Add(2*time.Second)) || ann.ExpiresAt.After(time.Now().Add(2*time.Second)) {
			t.Fatalf("created: %+v", ann)
		}
		if got := cl.call("GET", "/api/v1/runbooks", ann.Secret, nil, nil); got != 200 {
			t.Fatalf("a fresh token: %d", got)
		}
		var raw json.RawMessage
		if got := cl.call("GET", "/api/v1/tokens?user=ann", root, nil, &raw); got != 200 {
			t.Fatalf("list: %d", got)
		}
		if strings.Contains(string(raw), ann.Secret) || strings.Contains(string(raw), "hash") {
			t.Errorf("the list shows a secret or a hash: %s", raw)
		}
		var list struct{ Tokens []store.TokenInfo }
		json.Unmarshal(raw, &list)
		if len(list.Tokens) != 1 || list.Tokens[0].ID != ann.ID || list.Tokens[0].LastUsedAt == nil || list.Tokens[0].ExpiresAt == nil {
			t.Errorf("ann's tokens: %s", raw)
		}

		var p Problem
		waitFor(t, func() bool { return cl.call("GET", "/api/v1/runbooks", ann.Secret, nil, &p) == 401 })
		if p.Error != "token expired" || time.Now().After(ann.ExpiresAt.Add(5*time.Second)) {
			t.Errorf("after the TTL: %+v, %s after expiry", p, time.Since(*ann.ExpiresAt))
		}
		if cl.call("GET", "/api/v1/tokens?user=ann", root, nil, &list); len(list.Tokens) != 1 || list.Tokens[0].State != "expired" {
			t.Errorf("an expired token listed: %+v", list.Tokens)
		}

		var bob, carl createdToken
		cl.call("POST", "/api/v1/tokens", root, map[string]any{"user": "bob", "roles": []string{"viewer"}}, &bob)
		cl.call("POST", "/api/v1/tokens", root, map[string]any{"user": "carl", "roles": []string{"viewer"}}, &carl)
		if bob.ExpiresAt != nil || bob.Groups == nil || cl.call("GET", "/api/v1/runbooks", bob.Secret, nil, nil) != 200 {
			t.Fatalf("a token without a TTL: %+v", bob)
		}
		var revoked store.TokenInfo
		if got := cl.call("POST", fmt.Sprintf("/api/v1/tokens/%d/revoke", bob.ID), root, nil, &revoked); got != 200 || revoked.State != "revoked" || revoked.RevokedAt == nil {
			t.Fatalf("revoke: %d %+v", got, revoked)
		}
		if got := cl.call("GET", "/api/v1/runbooks", bob.Secret, nil, &p); got != 401 || p.Error != "token revoked" {
			t.Errorf("right after revocation: %d %+v", got, p)
		}
		if got := cl.call("POST", fmt.Sprintf("/api/v1/tokens/%d/revoke", bob.ID), root, nil, &p); got != 409 || p.Error != fmt.Sprintf("token %d already revoked", bob.ID) {
			t.Errorf("revoking twice: %d %+v", got, p)
		}
		if got := cl.call("POST", "/api/v1/tokens/"+carl.Prefix+"/revoke", root, nil, &revoked); got != 200 || revoked.ID != carl.ID {
			t.Errorf("revoke by prefix: %d %+v", got, revoked)
		}
		for _, ref := range []string{"999", "rbk_nope"} {
			if got := cl.call("POST", "/api/v1/tokens/"+ref+"/revoke", root, nil, &p); got != 404 || p.Error != "no token "+ref {
				t.Errorf("revoke %s: %d %+v", ref, got, p)
			}
		}
		if got := cl.call("GET", "/api/v1/runbooks", "rbk_nope", nil, &p); got != 401 || p.Error != "invalid token" {
			t.Errorf("an unknown token: %d %+v", got, p)
		}

		for _, tt := range []struct {
			body   any
			status int
			want   []any
		}{
			{map[string]any{"user": " ", "roles": []string{"operator", "root"}, "ttl": "-1h", "role": "admin"}, 422, []any{
				`role: unknown field (fields: user, roles, groups, ttl)`,
				`user: must not be empty`,
				`roles[1]: unknown role "root" (roles: viewer, operator, approver, author, admin)`,
				`ttl: "-1h": must be positive, e.g. 720h or 30d (leave it out for a token that does not expire)`,
			}},
			{map[string]any{"user": "dan", "roles": "admin", "ttl": 3600}, 422, []any{
				`roles: want a list of strings`,
				`ttl: want a duration string such as "720h" or "30d"`,
			}},
			{map[string]any{"user": "dan", "roles": []string{"viewer"}, "ttl": "soon"}, 422, []any{
				`ttl: invalid duration "soon" (want e.g. 90s, 15m, 2h, 7d, 1d12h)`,
			}},
			{`["dan"]`, 400, []any{`send {"user": "ann", "roles": ["operator"], "groups": [], "ttl": "720h"}`}},
		} {
			p = Problem{}
			if got := cl.call("POST", "/api/v1/tokens", root, tt.body, &p); got != tt.status || !reflect.DeepEqual(p.Details, tt.want) {
				t.Errorf("%v: %d %q\nwant %d %q", tt.body, got, p.Details, tt.status, tt.want)
			}
		}
		if all, _ := st.Tokens(""); len(all) != 4 {
			t.Errorf("%d tokens, want 4: bad requests made some", len(all))
		}

		log, _ := st.AuditLog("token.", 10)
		var got []string
		for _, e := range log {
			got = append(got, e.Actor+" "+e.Action+" "+e.Target)
			for _, secret := range []string{ann.Secret, bob.Secret, carl.Secret} {
				if strings.Contains(e.Detail, secret) {
					t.Errorf("audit entry %+v holds a secret", e)
				}
			}
		}
		want := []string{
			fmt.Sprintf("root token.revoke %d", carl.ID), fmt.Sprintf("root token.revoke %d", bob.ID),
			fmt.Sprintf("root token.create %d", carl.ID), fmt.Sprintf("root token.create %d", bob.ID), fmt.Sprintf("root token.create %d", ann.ID),
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("audit = %q\nwant %q", got, want)
		}

		// An admin may revoke the token it calls with; from then on only
		// runbook token create --db makes an admin token.
		var self store.TokenInfo
		if got := cl.call("POST", "/api/v1/tokens/1/revoke", root, nil, &self); got != 200 || self.User != "root" {
			t.Errorf("revoking one's own token: %d %+v", got, self)
		}
		if got := cl.call("GET", "/api/v1/tokens", root, nil, nil); got != 401 {
			t.Errorf("after revoking one's own token: %d", got)
		}
	})
}
