package sso

import (
	"net/http"
	"reflect"
	"testing"

	"github.com/opsrunbook/runbook/store"
	"github.com/zitadel/oidc/v3/example/server/storage"
)

// mapped is the configuration the sign-in tests use: ann's idp-sre and
// idp-dba map, her idp-marketing does not.
func mapped(cfg Config) Config {
	cfg.Groups = map[string][]string{"idp-sre": {"sre", "oncall"}, "idp-dba": {"dba"}}
	cfg.Roles = map[string][]string{"idp-sre": {"operator", "approver"}}
	cfg.DefaultRoles = []string{"viewer"}
	return cfg
}

// TestSignIn goes through the whole sign-in in a browser with a cookie jar
// against the example OP: the site's /login (Start), the IdP's login form,
// the callback (Finish), and back to the page the sign-in began on, for a
// confidential client whose claims come from userinfo, one whose ID token
// has them, and a public client (no secret, PKCE alone).
func TestSignIn(t *testing.T) {
	for _, tc := range []struct {
		name, secret    string
		client          func(redirect string) *storage.Client
		claimsInIDToken bool
		userinfo        int32 // userinfo requests expected
	}{
		{name: "confidential, claims from userinfo", secret: "s3cret",
			client: func(r string) *storage.Client { return storage.WebClient("runbook", "s3cret", r) }, userinfo: 1},
		{name: "confidential, claims in the ID token", secret: "s3cret", claimsInIDToken: true,
			client: func(r string) *storage.Client { return storage.WebClient("runbook", "s3cret", r) }},
		{name: "public client, PKCE only",
			client: func(r string) *storage.Client { return storage.NativeClient("runbook", r) }, userinfo: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln := listen(t)
			idp := startIdP(t, idpClient{Client: tc.client(redirectURL(ln)), claimsInIDToken: tc.claimsInIDToken})
			s := newSite(t, ln, mapped(Config{Issuer: idp.Issuer, ClientID: "runbook", ClientSecret: tc.secret, RedirectURL: redirectURL(ln)}))
			b := newBrowser(t, s)

			cb := b.signIn(t, "/approvals/42?tab=plan", "ann")
			resp, body, got := b.callback(t, cb)
			if got.err != nil {
				t.Fatalf("Finish: %v", got.err)
			}
			want := &store.Identity{User: "ann@example.com", Roles: []string{"viewer", "operator", "approver"}, Groups: []string{"dba", "oncall", "sre"}}
			if !reflect.DeepEqual(got.id, want) || got.returnTo != "/approvals/42?tab=plan" {
				t.Errorf("Finish = %+v, %q; want %+v, /approvals/42?tab=plan", got.id, got.returnTo, want)
			}
			if resp.StatusCode != http.StatusOK || body != "page /approvals/42?tab=plan" {
				t.Errorf("the browser ended at %s %q", resp.Status, body)
			}
			if c := b.flowCookie(t); c != nil {
				t.Errorf("the sign-in cookie is still there: %v", c)
			}
			if n := idp.userinfo.Load(); n != tc.userinfo {
				t.Errorf("%d userinfo requests, want %d", n, tc.userinfo)
			}
		})
	}
}
