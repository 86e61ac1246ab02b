package sso

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/storage"
)

// TestIdPError is the IdP's own error: the browser leaves the login form
// unanswered and goes on to the IdP's callback, which sends it back with
// error=interaction_required and the sign-in's state.
func TestIdPError(t *testing.T) {
	idp, s := signInSite(t, idpClient{}, nil)
	b := newBrowser(t, s)
	page, body := b.loginPage(t, "/")
	_, fields := form(t, page.Request.URL, body)
	resp, err := b.Get(idp.Issuer + "/auth/callback?id=" + url.QueryEscape(fields.Get("id")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cb, err := resp.Location()
	if err != nil {
		t.Fatalf("the IdP answered %s without a redirect", resp.Status)
	}
	_, _, got := b.callback(t, cb)
	var idpErr *IdPError
	if !errors.As(got.err, &idpErr) || !errors.Is(got.err, ErrIdP) || idpErr.Code != "interaction_required" {
		t.Fatalf("Finish = %+v, %v; want the IdP's interaction_required", got.id, got.err)
	}
	want := "the identity provider refused the sign-in: interaction_required: Unfortunately, the user may be not logged in and/or additional interaction is required."
	if got.err.Error() != want {
		t.Errorf("error:\n got %s\nwant %s", got.err, want)
	}
}

// TestReplay is a callback used twice: the second time the cookie is gone;
// with the cookie put back, the IdP refuses the used code.
func TestReplay(t *testing.T) {
	_, s := signInSite(t, idpClient{}, nil)
	b := newBrowser(t, s)
	cb := b.signIn(t, "/", "ann")
	cookie := *b.flowCookie(t)
	if _, _, got := b.callback(t, cb); got.err != nil {
		t.Fatalf("first callback: %v", got.err)
	}
	if _, _, got := b.callback(t, cb); !errors.Is(got.err, ErrNoFlow) {
		t.Errorf("second callback: %v; want %v", got.err, ErrNoFlow)
	}
	b.setFlowCookie(t, cookie.Value)
	_, _, got := b.callback(t, cb)
	if want := "the identity provider did not accept the sign-in code: invalid_grant: invalid code"; got.err == nil || got.err.Error() != want || !errors.Is(got.err, ErrExchange) {
		t.Errorf("callback with the cookie put back: %v; want %s", got.err, want)
	}
}

// TestTokenRefusals are answers of a real IdP that Finish refuses: an
// expired ID token (a client whose ID tokens live -1 minute) and a wrong
// client secret.
func TestTokenRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts idpClient
		cfg  func(*Config)
		is   error
		want string // the start of the error
	}{
		{name: "expired ID token", opts: idpClient{IDTokenLifetime: -time.Minute}, is: ErrToken,
			want: "the identity provider's ID token is not valid: oidc: token is expired (Token Expiry: "},
		{name: "wrong client secret", cfg: func(c *Config) { c.ClientSecret = "wrong" }, is: ErrExchange,
			want: "the identity provider did not accept the sign-in code: invalid_client: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, s := signInSite(t, tc.opts, tc.cfg)
			b := newBrowser(t, s)
			_, _, got := b.callback(t, b.signIn(t, "/", "ann"))
			if got.id != nil || !errors.Is(got.err, tc.is) || !strings.HasPrefix(got.err.Error(), tc.want) {
				t.Errorf("Finish = %+v, %v; want %s…", got.id, got.err, tc.want)
			}
		})
	}
}

// TestStart is the redirect to the IdP and the cookie that goes with it.
func TestStart(t *testing.T) {
	idp := startIdP(t)
	for _, tc := range []struct {
		name, redirect string
		tls            bool
		cookie         string
		secure         bool
	}{
		{name: "http on loopback", redirect: "http://127.0.0.1:1/auth/callback", cookie: "runbook_oidc"},
		{name: "https redirect URL (TLS ends at a proxy)", redirect: "https://runbook.example.com/auth/callback", cookie: "__Host-runbook_oidc", secure: true},
		{name: "TLS to the server", redirect: "http://127.0.0.1:1/auth/callback", tls: true, cookie: "__Host-runbook_oidc", secure: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(context.Background(), Config{Issuer: idp.Issuer, ClientID: "runbook", RedirectURL: tc.redirect})
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest("GET", "/login", nil)
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			w := httptest.NewRecorder()
			p.Start(w, r, "/runs?status=waiting")
			res := w.Result()
			if res.StatusCode != http.StatusFound || res.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("Start answered %s, Cache-Control %q", res.Status, res.Header.Get("Cache-Control"))
			}
			cookies := res.Cookies()
			if len(cookies) != 1 {
				t.Fatalf("cookies: %v", cookies)
			}
			c := cookies[0]
			if c.Name != tc.cookie || !c.HttpOnly || c.Secure != tc.secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.MaxAge != 600 || c.Domain != "" {
				t.Errorf("cookie: %+v", c)
			}
			f, ok := decodeFlow(c.Value)
			if !ok || f.ReturnTo != "/runs?status=waiting" || len(f.Verifier) != 43 {
				t.Errorf("flow in the cookie: %+v", f)
			}
			loc, _ := res.Location()
			q := loc.Query()
			sum := sha256.Sum256([]byte(f.Verifier))
			want := map[string]string{
				"response_type": "code", "client_id": "runbook", "redirect_uri": tc.redirect,
				"scope": "openid profile email groups", "state": f.State, "nonce": f.Nonce,
				"code_challenge": base64.RawURLEncoding.EncodeToString(sum[:]), "code_challenge_method": "S256",
			}
			for k, v := range want {
				if q.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, q.Get(k), v)
				}
			}
			if got := loc.Scheme + "://" + loc.Host + loc.Path; got != idp.Issuer+"/auth" {
				t.Errorf("redirected to %s, want the IdP's %s/auth", got, idp.Issuer)
			}
			if strings.Contains(loc.RawQuery, "client_secret") {
				t.Errorf("the redirect carries a secret: %s", loc)
			}
		})
	}
}

// TestStartRefusesOpenRedirects: a returnTo that is not a local path
// answers 400 with the reason, sets no cookie and redirects nowhere.
func TestStartRefusesOpenRedirects(t *testing.T) {
	idp := startIdP(t)
	p, err := New(context.Background(), Config{Issuer: idp.Issuer, ClientID: "runbook", RedirectURL: "http://127.0.0.1:1/auth/callback"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ returnTo, want string }{
		{"https://evil.example/", `"https://evil.example/" does not start with /`},
		{"//evil.example/", `"//evil.example/" starts with //, another site`},
		{`/\evil.example/`, `"/\\evil.example/" has a \, which browsers read as /`},
		{"/\t/evil.example/", `"/\t/evil.example/" has a control character`},
	} {
		t.Run(tc.returnTo, func(t *testing.T) {
			w := httptest.NewRecorder()
			p.Start(w, httptest.NewRequest("GET", "/login", nil), tc.returnTo)
			res := w.Result()
			body, _ := io.ReadAll(res.Body)
			want := "the page to return to must be a local path (starting with one /): " + tc.want + "\n"
			if res.StatusCode != http.StatusBadRequest || string(body) != want || res.Header.Get("Location") != "" || len(res.Cookies()) != 0 {
				t.Errorf("Start = %s %q, Location %q, cookies %v; want 400 %q", res.Status, body, res.Header.Get("Location"), res.Cookies(), want)
			}
		})
	}
}

func TestCheckReturnTo(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{in: "", want: "/"},
		{in: "/", want: "/"},
		{in: "/approvals/7?tab=plan#votes", want: "/approvals/7?tab=plan#votes"},
		{in: "/%2F%2Fevil.example", want: "/%2F%2Fevil.example"}, // a path on this site
		{in: "runs", err: `"runs" does not start with /`},
		{in: "https://evil.example", err: `"https://evil.example" does not start with /`},
		{in: "//evil.example", err: `"//evil.example" starts with //, another site`},
		{in: "///evil.example", err: `"///evil.example" starts with //, another site`},
		{in: `/\evil.example`, err: `"/\\evil.example" has a \, which browsers read as /`},
		{in: "/\n/evil.example", err: `"/\n/evil.example" has a control character`},
		{in: "/" + strings.Repeat("a", 1024), err: `"/` + strings.Repeat("a", 79) + `…" is longer than 1024 bytes`},
	} {
		got, err := CheckReturnTo(tc.in)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("CheckReturnTo(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		case tc.err != "" && (err == nil || !errors.Is(err, ErrReturnTo) || err.Error() != ErrReturnTo.Error()+": "+tc.err):
			t.Errorf("CheckReturnTo(%q) = %q, %v; want %s", tc.in, got, err, tc.err)
		}
	}
}

// TestNew: discovery must answer for the configured issuer.
func TestNew(t *testing.T) {
	idp := startIdP(t, idpClient{Client: storage.WebClient("runbook", "s3cret")})
	closed := listen(t)
	closedURL := "http://" + closed.Addr().String()
	closed.Close()
	localhost := strings.Replace(idp.Issuer, "127.0.0.1", "localhost", 1)
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // the error, or its start when it ends in "…"
	}{
		{name: "another issuer's name", cfg: Config{Issuer: localhost, ClientID: "runbook", RedirectURL: "http://127.0.0.1:1/cb"},
			want: "sso: discovery at " + localhost + `: oidc: issuer URL provided to client ("` + localhost + `") did not match the issuer URL returned by provider ("` + idp.Issuer + `")`},
		{name: "nothing there", cfg: Config{Issuer: closedURL, ClientID: "runbook", RedirectURL: "http://127.0.0.1:1/cb"},
			want: "sso: discovery at " + closedURL + ": Get \"" + closedURL + "/.well-known/openid-configuration\": dial tcp " + hostOf(closedURL) + ": connect: connection refused"},
		{name: "bad config", cfg: Config{Issuer: "http://idp.example", RedirectURL: "/cb", Roles: map[string][]string{"g": {"boss"}}, DefaultRoles: []string{"root"}},
			want: `invalid OpenID Connect settings: Config.Issuer: "http://idp.example": must be https (http only for localhost, 127.0.0.1 or ::1); ` +
				`Config.ClientID: must be set; Config.RedirectURL: "/cb": not an absolute http(s) URL; ` +
				`Config.Roles: g=boss: unknown role "boss" (roles: viewer, operator, approver, author, admin); ` +
				`Config.DefaultRoles: unknown role "root" (roles: viewer, operator, approver, author, admin)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(context.Background(), tc.cfg)
			if p != nil || err == nil || err.Error() != tc.want {
				t.Errorf("New = %v, %v;\nwant %s", p, err, tc.want)
			}
		})
	}
	p, err := New(context.Background(), Config{Issuer: idp.Issuer, ClientID: "runbook", RedirectURL: "http://127.0.0.1:1/cb", Scopes: []string{"email"}})
	if err != nil {
		t.Fatal(err)
	}
	if c := p.Config(); strings.Join(c.Scopes, " ") != "openid email" || c.UserClaim != "email" || c.GroupsClaim != "groups" {
		t.Errorf("defaults: %+v", c)
	}
}

func hostOf(u string) string { return strings.TrimPrefix(u, "http://") }
