package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/server"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/web"
)

// xssRunbook has user-written text everywhere a page shows it.
const xssRunbook = `apiVersion: runbook/v1
kind: Runbook
metadata:
  name: xss
  description: "<script>window.__xss = 1</script> restarts things"
spec:
  params:
    - {name: who, type: string, default: "<script>window.__xss = 2</script>", pattern: "^[^\"]*$"}
    - {name: level, type: string, enum: [low, high], default: low}
    - {name: dry, type: bool, default: true}
    - {name: n, type: int, default: 2, min: 1, max: 5}
  steps:
    - {id: say, action: log, with: {message: "${{ params.who }}"}}
`

// console is a console on an API that has a store and no Temporal:
// enough for sign-in, sessions, CSRF and the runbook pages.
type console struct {
	t   *testing.T
	st  *store.Store
	srv *httptest.Server
}

func newConsole(t *testing.T, o web.Options) *console {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "web.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	api := &server.API{Store: st, Catalog: activities.Catalog()}
	if _, _, _, err := api.Register(context.Background(), []byte(xssRunbook), "alice"); err != nil {
		t.Fatal(err)
	}
	o.API, o.Store = api.Handler(), st
	c, err := web.New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(srv.Close)
	return &console{t: t, st: st, srv: srv}
}

func (c *console) token(user string, roles ...string) string {
	s, _, err := c.st.CreateToken(user, roles, []string{"board"})
	if err != nil {
		c.t.Fatal(err)
	}
	return s
}

// browser is an HTTP client with cookies that does not follow redirects.
func (c *console) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (c *console) do(cl *http.Client, method, path string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, c.srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := cl.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var hidden = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn signs cl in with token and returns the session's CSRF token.
func (c *console) signIn(cl *http.Client, token string) string {
	c.t.Helper()
	_, page := c.do(cl, "GET", "/login", nil)
	m := hidden.FindStringSubmatch(page)
	if m == nil {
		c.t.Fatalf("no nonce on the sign-in page: %s", page)
	}
	resp, _ := c.do(cl, "POST", "/login", url.Values{"csrf": {m[1]}, "token": {token}, "next": {"/runbooks"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/runbooks" {
		c.t.Fatalf("sign-in: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, page = c.do(cl, "GET", "/runbooks", nil)
	if m = hidden.FindStringSubmatch(page); m == nil {
		c.t.Fatalf("no CSRF token on a page: %s", page)
	}
	return m[1]
}

func sessionCookie(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, ck := range resp.Cookies() {
		if ck.Name == web.SessionCookie {
			return ck
		}
	}
	t.Fatalf("no %s cookie in %v", web.SessionCookie, resp.Header["Set-Cookie"])
	return nil
}

// Sign-in exchanges a token for a session cookie (HttpOnly, SameSite=Lax,
// Secure when the public URL is https); bad tokens and forms without the
// page's nonce are refused; next never leaves the site.
func TestSignIn(t *testing.T) {
	for _, tc := range []struct {
		name, publicURL string
		secure          bool
	}{{"http", "", false}, {"behind a TLS proxy", "https://runbooks.example.com", true}} {
		t.Run(tc.name, func(t *testing.T) {
			c := newConsole(t, web.Options{PublicURL: tc.publicURL})
			tok := c.token("ann", "approver")
			cl := c.browser()
			resp, _ := c.do(cl, "GET", "/approvals", nil)
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=%2Fapprovals" {
				t.Fatalf("a page without a session: %d %s", resp.StatusCode, resp.Header.Get("Location"))
			}
			_, page := c.do(cl, "GET", "/login", nil)
			nonce := hidden.FindStringSubmatch(page)[1]
			for _, bad := range []struct {
				form   func(nonce string) url.Values
				status int
				text   string
			}{
				{func(string) url.Values { return url.Values{"token": {tok}} }, 403, "the sign-in form expired: send it again"},
				{func(n string) url.Values { return url.Values{"token": {tok}, "csrf": {n + "x"}} }, 403, "the sign-in form expired: send it again"},
				{func(n string) url.Values { return url.Values{"token": {"rbk_nope"}, "csrf": {n}} }, 401, "sign-in refused: invalid token"},
				{func(n string) url.Values { return url.Values{"token": {""}, "csrf": {n}} }, 401, "paste an API token"},
			} {
				form := bad.form(nonce)
				resp, page := c.do(cl, "POST", "/login", form)
				if resp.StatusCode != bad.status || !strings.Contains(page, bad.text) {
					t.Errorf("sign-in with %v: %d, want %d with %q", form, resp.StatusCode, bad.status, bad.text)
				}
				for _, ck := range resp.Cookies() {
					if ck.Name == web.SessionCookie {
						t.Errorf("a refused sign-in set a session cookie")
					}
				}
				nonce = hidden.FindStringSubmatch(page)[1]
			}
			resp, _ = c.do(cl, "POST", "/login", url.Values{"token": {tok}, "csrf": {nonce}, "next": {"//evil.example/x"}})
			ck := sessionCookie(t, resp)
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
				t.Errorf("next=//evil.example: %d %s", resp.StatusCode, resp.Header.Get("Location"))
			}
			if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Secure != tc.secure || len(ck.Value) != 43 {
				t.Errorf("session cookie: %+v", ck)
			}
			exp := time.Until(ck.Expires)
			if exp < web.DefaultSessionTTL-time.Minute || exp > web.DefaultSessionTTL {
				t.Errorf("cookie expires in %v, want %v", exp, web.DefaultSessionTTL)
			}
			if resp, page := c.do(cl, "GET", "/", nil); resp.StatusCode != 200 || !strings.Contains(page, `<strong id="whoami">ann</strong>`) {
				t.Errorf("inbox after sign-in: %d %s", resp.StatusCode, page)
			}
		})
	}
}

// Every form post needs the session's CSRF token; without it, or with a
// wrong one, it is refused with 403 and nothing is done.
func TestCSRF(t *testing.T) {
	c := newConsole(t, web.Options{})
	cl := c.browser()
	csrf := c.signIn(cl, c.token("ann", "operator"))
	for _, form := range []url.Values{{}, {"csrf": {""}}, {"csrf": {csrf[:len(csrf)-1]}}, {"csrf": {csrf + "x"}}} {
		for _, path := range []string{"/runbooks/xss/runs", "/logout", "/runs/r1/cancel", "/runs/r1/approvals/board"} {
			resp, page := c.do(cl, "POST", path, form)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "the form&#39;s CSRF token is missing or wrong") {
				t.Errorf("POST %s with %v: %d %s", path, form, resp.StatusCode, page)
			}
		}
	}
	if runs, _, _ := c.st.Runs(store.RunFilter{}); len(runs) != 0 {
		t.Errorf("a refused post started %d runs", len(runs))
	}
	// The session still works: the refusals ended nothing.
	if resp, _ := c.do(cl, "GET", "/runbooks", nil); resp.StatusCode != 200 {
		t.Errorf("after refusals: %d", resp.StatusCode)
	}
	// A post without a session is refused too, and redirects nowhere.
	if resp, page := c.do(c.browser(), "POST", "/runbooks/xss/runs", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "you are not signed in") {
		t.Errorf("post without a session: %d %s", resp.StatusCode, page)
	}
}

// Sign-out ends the session: the cookie, kept, no longer works. So do an
// expired session and a session whose token was revoked.
func TestSessionEnds(t *testing.T) {
	c := newConsole(t, web.Options{})
	reuse := func(ck *http.Cookie) int {
		req, _ := http.NewRequest("GET", c.srv.URL+"/runbooks", nil)
		req.AddCookie(ck)
		resp, err := c.browser().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	cookieOf := func(cl *http.Client) *http.Cookie {
		u, _ := url.Parse(c.srv.URL)
		for _, ck := range cl.Jar.Cookies(u) {
			if ck.Name == web.SessionCookie {
				return &http.Cookie{Name: ck.Name, Value: ck.Value}
			}
		}
		t.Fatal("no session cookie")
		return nil
	}

	t.Run("sign-out", func(t *testing.T) {
		cl := c.browser()
		csrf := c.signIn(cl, c.token("ann", "viewer"))
		kept := cookieOf(cl)
		resp, _ := c.do(cl, "POST", "/logout", url.Values{"csrf": {csrf}})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" || sessionCookie(t, resp).MaxAge >= 0 {
			t.Fatalf("sign-out: %d %s %v", resp.StatusCode, resp.Header.Get("Location"), resp.Header["Set-Cookie"])
		}
		if got := reuse(kept); got != http.StatusSeeOther {
			t.Errorf("the cookie after sign-out: %d, want a redirect to sign in", got)
		}
	})
	t.Run("expired", func(t *testing.T) {
		cl := c.browser()
		c.signIn(cl, c.token("bob", "viewer"))
		kept := cookieOf(cl)
		if got := reuse(kept); got != 200 {
			t.Fatalf("a live session: %d", got)
		}
		if err := c.st.ExpireSession(kept.Value, time.Now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		if got := reuse(kept); got != http.StatusSeeOther {
			t.Errorf("an expired session: %d", got)
		}
	})
	t.Run("revoked token", func(t *testing.T) {
		cl := c.browser()
		tok := c.token("cy", "viewer")
		c.signIn(cl, tok)
		id, err := c.st.Authenticate(tok)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.st.RevokeToken("root", id.TokenID); err != nil {
			t.Fatal(err)
		}
		if got := reuse(cookieOf(cl)); got != http.StatusSeeOther {
			t.Errorf("the session of a revoked token: %d", got)
		}
	})
	t.Run("a short session setting", func(t *testing.T) {
		short := newConsole(t, web.Options{SessionTTL: time.Second})
		cl := short.browser()
		short.signIn(cl, short.token("dee", "viewer"))
		time.Sleep(1100 * time.Millisecond)
		if resp, _ := short.do(cl, "GET", "/runbooks", nil); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("after the session's TTL: %d", resp.StatusCode)
		}
	})
}

// What users wrote renders as text; every console page has the CSP and
// no inline script; the API's routes are served as before, and a session
// cookie does not authenticate them.
func TestPagesEscapeAndCSP(t *testing.T) {
	c := newConsole(t, web.Options{})
	cl := c.browser()
	c.signIn(cl, c.token("ann", "operator"))
	resp, page := c.do(cl, "GET", "/runbooks/xss", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("runbook page: %d %s", resp.StatusCode, page)
	}
	if strings.Contains(page, "<script>window") || !strings.Contains(page, "&lt;script&gt;window.__xss = 1&lt;/script&gt; restarts things") ||
		!strings.Contains(page, `value="&lt;script&gt;window.__xss = 2&lt;/script&gt;"`) {
		t.Errorf("user text not escaped:\n%s", page)
	}
	for _, want := range []string{
		`<select id="f-param-level" name="param.level">`, `<option value="low" selected>low</option>`,
		`<input type="checkbox" id="f-param-dry" name="param.dry" value="true" checked>`,
		`<input type="number" id="f-param-n" name="param.n" value="2" min="1" max="5" step="1">`,
		`pattern="^[^&#34;]*$"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the start form lacks %s", want)
		}
	}
	if _, _, _, err := (&server.API{Store: c.st, Catalog: activities.Catalog()}).Register(context.Background(),
		[]byte(strings.Replace(xssRunbook, "restarts things", "restarts <i>more</i> things", 1)), "alice"); err != nil {
		t.Fatal(err)
	}
	_, page = c.do(cl, "GET", "/runbooks/xss", nil)
	for _, want := range []string{"<h2>Changes from version 1</h2>", "-  description: &#34;&lt;script&gt;window.__xss = 1&lt;/script&gt; restarts things&#34;",
		"&#43;  description: &#34;&lt;script&gt;window.__xss = 1&lt;/script&gt; restarts &lt;i&gt;more&lt;/i&gt; things&#34;"} {
		if !strings.Contains(page, want) {
			t.Errorf("version 2's page lacks %s\n%s", want, page)
		}
	}
	for _, path := range []string{"/", "/approvals", "/runs", "/runbooks", "/runbooks/xss", "/runbooks/xss?version=1", "/login"} {
		resp, page := c.do(cl, "GET", path, nil)
		if got := resp.Header.Get("Content-Security-Policy"); got != web.CSP {
			t.Errorf("%s: CSP %q", path, got)
		}
		for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(page, -1) {
			if tag != `<script src="/static/console.js" defer>` {
				t.Errorf("%s: script tag %s", path, tag)
			}
		}
		if strings.Contains(page, " style=") || strings.Contains(page, "<style") || regexp.MustCompile(` on[a-z]+=`).MatchString(page) {
			t.Errorf("%s: inline style or handler", path)
		}
	}
	if resp, _ := c.do(cl, "GET", "/static/console.js", nil); resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("console.js: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for path, want := range map[string]int{"/healthz": 200, "/openapi.json": 200, "/api/v1/runbooks": 401, "/nope": 404} {
		resp, page := c.do(cl, "GET", path, nil)
		if resp.StatusCode != want || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || resp.Header.Get("Content-Security-Policy") != "" {
			t.Errorf("GET %s with a session cookie: %d %s %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), page)
		}
	}
}
