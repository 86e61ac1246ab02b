package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/server"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/web"
)

// handlerConsole is a console's handler, to send requests from any
// client address.
func handlerConsole(t *testing.T, o web.Options) (http.Handler, *store.Store) {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "web.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	o.API, o.Store = (&server.API{Store: st, Catalog: activities.Catalog()}).Handler(), st
	c, err := web.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c.Handler(), st
}

// tokenSignIn posts token to /login from addr, with the nonce of a sign-in
// page loaded from there.
func tokenSignIn(t *testing.T, h http.Handler, addr, token string) *httptest.ResponseRecorder {
	t.Helper()
	get := httptest.NewRequest("GET", "/login", nil)
	get.RemoteAddr = addr
	page := httptest.NewRecorder()
	h.ServeHTTP(page, get)
	req := httptest.NewRequest("POST", "/login", strings.NewReader(url.Values{"token": {token}, "csrf": {""}}.Encode()))
	if m := hidden.FindStringSubmatch(page.Body.String()); m != nil {
		req = httptest.NewRequest("POST", "/login", strings.NewReader(url.Values{"token": {token}, "csrf": {m[1]}}.Encode()))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RemoteAddr = addr
	for _, ck := range page.Result().Cookies() {
		req.AddCookie(ck)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// TestLoginLimit: past LoginFailures refused tokens from one address
// (an IPv6 address by its /64) within LoginWindow, every sign-in from it
// is answered 429 with Retry-After, a good token included, and is not
// audited; other addresses sign in.
func TestLoginLimit(t *testing.T) {
	h, st := handlerConsole(t, web.Options{LoginFailures: 3, LoginWindow: time.Hour})
	good, _, err := st.CreateToken("ann", []string{"viewer"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, addr, sibling, other string }{
		{"IPv4", "192.0.2.1:1000", "192.0.2.1:2000", "192.0.2.2:1000"},
		{"IPv6 by its /64", "[2001:db8::1]:1000", "[2001:db8::ffff]:1", "[2001:db8:0:1::1]:1000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := range 3 {
				if w := tokenSignIn(t, h, tc.addr, "rbk_guess"+strconv.Itoa(i)); w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "sign-in refused: invalid token") {
					t.Fatalf("refused token %d: %d %s", i, w.Code, w.Body.String())
				}
			}
			for _, addr := range []string{tc.addr, tc.sibling} {
				w := tokenSignIn(t, h, addr, good)
				retry, _ := strconv.Atoi(w.Header().Get("Retry-After"))
				if w.Code != http.StatusTooManyRequests || retry < 3590 || retry > 3600 ||
					!regexp.MustCompile(`id="refused">too many failed sign-ins from your address: try again in (1h0m0s|59m5\ds)</p>`).MatchString(w.Body.String()) {
					t.Errorf("from %s past the limit: %d, Retry-After %q, %s", addr, w.Code, w.Header().Get("Retry-After"), w.Body.String())
				}
				for _, ck := range w.Result().Cookies() {
					if ck.Name == web.SessionCookie {
						t.Error("a session past the limit")
					}
				}
			}
			if w := tokenSignIn(t, h, tc.other, good); w.Code != http.StatusSeeOther {
				t.Errorf("another address: %d %s", w.Code, w.Body.String())
			}
		})
	}
	refused, _, _ := st.AuditEntries(store.AuditFilter{Action: store.ActionSignIn, Outcome: store.AuditRefused})
	ok, _, _ := st.AuditEntries(store.AuditFilter{Action: store.ActionSignIn, Outcome: store.AuditOK})
	if len(refused) != 6 || len(ok) != 2 {
		t.Errorf("audited %d refused and %d sign-ins, want 6 and 2 (none past the limit)", len(refused), len(ok))
	}
	if e := refused[0]; e.Actor != "anonymous" || e.Target != "token" || e.Reason != "invalid token" ||
		e.Detail != `{"method":"token","address":"2001:db8::1","status":401}` {
		t.Errorf("a refused token's audit: %+v", e)
	}
}

// TestSessionAudit: a token sign-in and its sign-out are audited with the
// method, the user and the address; a sign-in prunes the sessions that
// ended before it.
func TestSessionAudit(t *testing.T) {
	c := newConsole(t, web.Options{})
	old, _, err := c.st.CreateSession(&store.Identity{User: "old", Roles: []string{"viewer"}}, "oidc", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.st.ExpireSession(old, time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	cl := c.browser()
	csrf := c.signIn(cl, c.token("ann", "approver"))
	if _, _, err := c.st.SessionIdentity(old); err != store.ErrBadSession {
		t.Errorf("the expired session after a sign-in: %v, want it pruned (%v)", err, store.ErrBadSession)
	}
	if resp, _ := c.do(cl, "POST", "/logout", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", resp.StatusCode)
	}
	entries, _, _ := c.st.AuditEntries(store.AuditFilter{})
	var got []string
	for _, e := range entries {
		got = append(got, e.Actor+" "+e.Action+" "+e.Outcome+" "+e.Detail)
	}
	want := []string{
		`ann session.signout ok {"method":"token","address":"127.0.0.1"}`,
		`ann session.signin ok {"method":"token","address":"127.0.0.1","roles":["approver"],"groups":["board"]}`,
	}
	if strings.Join(got[:2], "\n") != strings.Join(want, "\n") || entries[0].Target != entries[1].Target {
		t.Errorf("audit:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
