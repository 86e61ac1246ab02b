package sso

import (
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/opsrunbook/runbook/sso/ssotest"
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
			idp := startIdP(t, idpClient{Client: tc.client(redirectURL(ln)), ClaimsInIDToken: tc.claimsInIDToken})
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
			if n := idp.Userinfo(); n != tc.userinfo {
				t.Errorf("%d userinfo requests, want %d", n, tc.userinfo)
			}
		})
	}
}

// signInSite is a site for a confidential client at a new IdP, with opts
// for the client and cfg's mapping.
func signInSite(t *testing.T, opts idpClient, cfg func(*Config)) (*ssotest.IdP, *site) {
	t.Helper()
	ln := listen(t)
	opts.Client = storage.WebClient("runbook", "s3cret", redirectURL(ln))
	idp := startIdP(t, opts)
	c := mapped(Config{Issuer: idp.Issuer, ClientID: "runbook", ClientSecret: "s3cret", RedirectURL: redirectURL(ln)})
	if cfg != nil {
		cfg(&c)
	}
	return idp, newSite(t, ln, c)
}

// TestFinishRefusals tampers with a real sign-in between the IdP and the
// callback, and with the browser's cookie: each is refused with its error,
// the cookie is cleared, and no identity comes out.
func TestFinishRefusals(t *testing.T) {
	_, s := signInSite(t, idpClient{}, nil)
	for _, tc := range []struct {
		name   string
		user   string
		cfg    func(*Config) // a site of its own with this configuration
		tamper func(t *testing.T, b *browser, cb *url.URL)
		is     error
		want   string // the error, or its start when it ends in "…"
	}{
		{name: "no cookie", tamper: func(t *testing.T, b *browser, cb *url.URL) {
			b.jar.SetCookies(cb, []*http.Cookie{{Name: cookieName, Path: "/", MaxAge: -1}})
		},
			is: ErrNoFlow, want: ErrNoFlow.Error()},
		{name: "garbage cookie", tamper: func(t *testing.T, b *browser, cb *url.URL) { b.setFlowCookie(t, "not-base64!") },
			is: ErrNoFlow, want: ErrNoFlow.Error()},
		{name: "wrong state", tamper: func(t *testing.T, b *browser, cb *url.URL) { setQuery(cb, "state", "forged") },
			is: ErrState, want: ErrState.Error()},
		{name: "no state", tamper: func(t *testing.T, b *browser, cb *url.URL) { setQuery(cb, "state", "") },
			is: ErrState, want: ErrState.Error()},
		{name: "IdP error with the right state", tamper: func(t *testing.T, b *browser, cb *url.URL) {
			cb.RawQuery = url.Values{"state": {cb.Query().Get("state")}, "error": {"access_denied"}, "error_description": {"the user said no"}}.Encode()
		}, is: ErrIdP, want: "the identity provider refused the sign-in: access_denied: the user said no"},
		{name: "IdP error with a wrong state", tamper: func(t *testing.T, b *browser, cb *url.URL) {
			cb.RawQuery = url.Values{"state": {"forged"}, "error": {"access_denied"}, "error_description": {"call +1 555 0100"}}.Encode()
		}, is: ErrState, want: ErrState.Error()},
		{name: "no code", tamper: func(t *testing.T, b *browser, cb *url.URL) { setQuery(cb, "code", "") },
			is: ErrCallback, want: ErrCallback.Error()},
		{name: "tampered code", tamper: func(t *testing.T, b *browser, cb *url.URL) { setQuery(cb, "code", cb.Query().Get("code")+"x") },
			is: ErrExchange, want: "the identity provider did not accept the sign-in code: invalid_grant: invalid code"},
		{name: "wrong PKCE verifier", tamper: func(t *testing.T, b *browser, cb *url.URL) {
			b.editFlow(t, func(f *flow) { f.Verifier = random() })
		}, is: ErrExchange, want: "the identity provider did not accept the sign-in code: invalid_grant: invalid code_verifier"},
		{name: "wrong nonce", tamper: func(t *testing.T, b *browser, cb *url.URL) {
			b.editFlow(t, func(f *flow) { f.Nonce = random() })
		}, is: ErrToken, want: "the identity provider's ID token is not valid: its nonce is not the one this sign-in sent"},
		{name: "open redirect planted in the cookie", tamper: func(t *testing.T, b *browser, cb *url.URL) {
			b.editFlow(t, func(f *flow) { f.ReturnTo = "//evil.example/" })
		}, is: ErrReturnTo, want: `the page to return to must be a local path (starting with one /): "//evil.example/" starts with //, another site`},
		{name: "unverified email", user: "eve", is: ErrClaims, want: "the identity provider's claims do not name a user: the identity provider has not verified the email eve@example.com"},
		{name: "no mapped group, no default role", user: "test-user@127.0.0.1", cfg: func(c *Config) { c.DefaultRoles = nil },
			is: ErrNoRoles, want: "signed in as test-user@zitadel.ch, but no role is granted: the IdP sent no groups, and no default role is set"},
		{name: "mapped groups, none to a role", user: "ann", cfg: func(c *Config) { c.DefaultRoles, c.Roles = nil, nil },
			is: ErrNoRoles, want: "signed in as ann@example.com, but no role is granted: no role is mapped from the IdP groups idp-sre, idp-dba, idp-marketing, and no default role is set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := s
			if tc.cfg != nil {
				_, s = signInSite(t, idpClient{}, tc.cfg)
			}
			b := newBrowser(t, s)
			user := tc.user
			if user == "" {
				user = "ann"
			}
			cb := b.signIn(t, "/runs", user)
			if tc.tamper != nil {
				tc.tamper(t, b, cb)
			}
			resp, body, got := b.callback(t, cb)
			if got.id != nil || !errors.Is(got.err, tc.is) {
				t.Fatalf("Finish = %+v, %v; want %v", got.id, got.err, tc.is)
			}
			if msg := got.err.Error(); msg != tc.want && !(strings.HasSuffix(tc.want, "…") && strings.HasPrefix(msg, strings.TrimSuffix(tc.want, "…"))) {
				t.Errorf("error:\n got %s\nwant %s", msg, tc.want)
			}
			if resp.StatusCode != http.StatusUnauthorized || strings.TrimSpace(body) != got.err.Error() {
				t.Errorf("the site answered %s %q", resp.Status, body)
			}
			if c := b.flowCookie(t); c != nil {
				t.Errorf("the sign-in cookie is still there: %v", c)
			}
		})
	}
}

func setQuery(u *url.URL, key, value string) {
	q := u.Query()
	if value == "" {
		q.Del(key)
	} else {
		q.Set(key, value)
	}
	u.RawQuery = q.Encode()
}

// editFlow changes the sign-in cookie the browser holds.
func (b *browser) editFlow(t *testing.T, edit func(*flow)) {
	t.Helper()
	c := b.flowCookie(t)
	if c == nil {
		t.Fatal("no sign-in cookie")
	}
	f, ok := decodeFlow(c.Value)
	if !ok {
		t.Fatalf("the sign-in cookie does not decode: %q", c.Value)
	}
	edit(&f)
	b.setFlowCookie(t, f.encode())
}
