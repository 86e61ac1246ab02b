package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/storage"

	"github.com/opsrunbook/runbook/sso/ssotest"
)

// TestConsoleSSOSettings: wrong RUNBOOK_OIDC_* settings fail server and
// dev at start, naming the variable (usage, exit 2); a provider that does
// not answer fails the start (exit 1) before anything else starts.
func TestConsoleSSOSettings(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		code int
		want string
	}{
		{name: "issuer alone", env: map[string]string{"RUNBOOK_OIDC_ISSUER": "https://idp.example.com"}, code: 2,
			want: "invalid OpenID Connect settings: RUNBOOK_OIDC_CLIENT_ID: must be set when RUNBOOK_OIDC_ISSUER is set; RUNBOOK_OIDC_REDIRECT_URL (or RUNBOOK_PUBLIC_URL): must be set when RUNBOOK_OIDC_ISSUER is set"},
		{name: "unknown role", env: map[string]string{"RUNBOOK_OIDC_ISSUER": "https://idp.example.com", "RUNBOOK_OIDC_CLIENT_ID": "runbook",
			"RUNBOOK_PUBLIC_URL": "https://rb.example.com", "RUNBOOK_OIDC_ROLES": "idp-sre=boss"}, code: 2,
			want: `invalid OpenID Connect settings: RUNBOOK_OIDC_ROLES: idp-sre=boss: unknown role "boss" (roles: viewer, operator, approver, author, admin)`},
		{name: "a callback the console does not serve", env: map[string]string{"RUNBOOK_OIDC_ISSUER": "https://idp.example.com", "RUNBOOK_OIDC_CLIENT_ID": "runbook",
			"RUNBOOK_OIDC_REDIRECT_URL": "https://rb.example.com/oidc"}, code: 2,
			want: `invalid OpenID Connect settings: RUNBOOK_OIDC_REDIRECT_URL: "https://rb.example.com/oidc": the console finishes sign-ins at /auth/callback: the URL's path must end with it`},
		{name: "a provider that does not answer", env: map[string]string{"RUNBOOK_OIDC_ISSUER": "http://127.0.0.1:1", "RUNBOOK_OIDC_CLIENT_ID": "runbook",
			"RUNBOOK_PUBLIC_URL": "http://127.0.0.1:8080"}, code: 1,
			want: "RUNBOOK_OIDC_ISSUER: sso: discovery at http://127.0.0.1:1: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			for _, cmd := range []string{"server", "dev"} {
				var out, errOut strings.Builder
				code := run([]string{cmd, "--listen", "127.0.0.1:0", "--dir", t.TempDir()}[:map[string]int{"server": 3, "dev": 5}[cmd]], &out, &errOut)
				if code != tc.code || !strings.Contains(errOut.String(), "runbook "+cmd+": "+tc.want) {
					t.Errorf("runbook %s: exit %d, stderr %q; want %d with %q", cmd, code, errOut.String(), tc.code, tc.want)
				}
			}
		})
	}
}

// TestConsoleSSODev: runbook dev with a real OpenID Provider on 127.0.0.1
// says so at start, offers the provider on its sign-in page and sends
// /login/oidc to the provider's authorization endpoint with PKCE.
func TestConsoleSSODev(t *testing.T) {
	redirect := "http://127.0.0.1:1/auth/callback"
	idp := ssotest.Start(t, ssotest.Options{Clients: []ssotest.Client{{Client: storage.WebClient("runbook", "s3cret", redirect)}}})
	dev := startDevProc(t, t.TempDir(), []string{"RUNBOOK_OIDC_ISSUER=" + idp.Issuer, "RUNBOOK_OIDC_CLIENT_ID=runbook",
		"RUNBOOK_OIDC_CLIENT_SECRET=s3cret", "RUNBOOK_OIDC_REDIRECT_URL=" + redirect, "RUNBOOK_OIDC_PROVIDER_NAME=Example IdP",
		"RUNBOOK_OIDC_DEFAULT_ROLES=viewer"})
	if want := "(sign in with a token below or with Example IdP (OpenID Connect at " + idp.Issuer + "))"; !strings.Contains(dev.out.String(), want) {
		t.Errorf("dev's output does not say %q:\n%s", want, dev.out.String())
	}
	resp, err := http.Get(dev.api + "/login?next=/runs")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), `<a id="signin-oidc" href="/login/oidc?next=%2fruns">Sign in with Example IdP</a>`) {
		t.Errorf("the sign-in page has no provider button:\n%s", page)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noRedirect.Get(dev.api + "/login/oidc?next=/runs")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc.String(), idp.Issuer+"/") {
		t.Fatalf("GET /login/oidc: %s, Location %v", resp.Status, loc)
	}
	q := loc.Query()
	if q.Get("client_id") != "runbook" || q.Get("redirect_uri") != redirect || q.Get("code_challenge_method") != "S256" || q.Get("state") == "" {
		t.Errorf("the authorization request: %v", url.Values(q))
	}
}
