package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/zitadel/oidc/v3/example/server/storage"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/server"
	"github.com/opsrunbook/runbook/sso"
	"github.com/opsrunbook/runbook/sso/ssotest"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/web"
)

// ssoUsers are the test IdP's users: ann (operator and approver in
// board), dan (approver in board), vera (viewer) and mal, whose only
// group maps to nothing.
func ssoUsers() []ssotest.User {
	u := func(id string, groups ...string) ssotest.User {
		return ssotest.User{User: storage.User{ID: id, Username: id, Email: id + "@example.com", EmailVerified: true}, Groups: groups}
	}
	return []ssotest.User{u("ann", "idp-sre", "idp-board"), u("dan", "idp-board"), u("vera", "idp-readers"), u("mal", "idp-marketing")}
}

// ssoConsole is a console with single sign-on through a real OpenID
// Provider on 127.0.0.1 (ssotest), on api and st.
type ssoConsole struct {
	URL string
	idp *ssotest.IdP
}

func newSSOConsole(t *testing.T, api http.Handler, st *store.Store, o web.Options) *ssoConsole {
	t.Helper()
	ln := ssotest.Listen(t)
	base := "http://" + ln.Addr().String()
	idp := ssotest.Start(t, ssotest.Options{Users: ssoUsers(),
		Clients: []ssotest.Client{{Client: storage.WebClient("runbook", "s3cret", base+sso.CallbackPath)}}})
	p, err := sso.New(context.Background(), sso.Config{Name: "Example IdP", Issuer: idp.Issuer, ClientID: "runbook", ClientSecret: "s3cret",
		RedirectURL: base + sso.CallbackPath,
		Groups:      map[string][]string{"idp-board": {"board"}, "idp-sre": {"sre"}},
		Roles:       map[string][]string{"idp-sre": {"operator"}, "idp-board": {"approver"}, "idp-readers": {"viewer"}}})
	if err != nil {
		t.Fatal(err)
	}
	o.API, o.Store, o.SSO = api, st, p
	c, err := web.New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: c.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &ssoConsole{URL: base, idp: idp}
}

// oidcPerson signs user in at the IdP from the console's sign-in page,
// in a browser context of its own, and lands where the console sends
// them (a page, or the sign-in page saying why not).
func (s *stack) oidcPerson(browser context.Context, c *ssoConsole, user string) *person {
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	s.t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		s.t.Fatal(err)
	}
	p := &person{t: s.t, name: user, ctx: ctx, base: c.URL}
	p.run(chromedp.Navigate(c.URL+"/approvals"),
		chromedp.WaitVisible(chromedp.ID("signin-oidc")))
	if got := p.text("#signin-oidc"); got != "Sign in with Example IdP" {
		s.t.Errorf("the provider's button: %q", got)
	}
	p.run(chromedp.Click(chromedp.ID("signin-oidc")),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), user),
		chromedp.SendKeys(chromedp.ID("password"), ssotest.Password),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.CSS("#whoami, #refused")))
	return p
}

// postAPI posts body to the API as user's token and answers the status.
func (s *stack) postAPI(user, path string, body any) int {
	s.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", s.srv.URL+path, strings.NewReader(string(b)))
	req.Header.Set("Authorization", "Bearer "+s.tokens[user])
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

type auditView struct {
	Actor, Action, Target, Outcome, Reason string
	Detail                                 map[string]any
}

// TestSSOBrowser signs people in through a real OpenID Provider in
// Chromium: the mapped operator starts a run from the form and may not
// approve it (same user name); a mapped approver sees it in the inbox
// (a mapped group), votes, and with a token holder's vote the quorum is
// met; a mapped viewer follows the run live (an event stream of a
// session without a token) and cannot vote; an unmapped user is refused
// with the reason; sign-out ends the session. The audit names each.
func TestSSOBrowser(t *testing.T) {
	s := newStack(t)
	root, _, err := s.st.CreateToken("root", []string{"admin"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.tokens["root"] = root
	c := newSSOConsole(t, s.apiSrv.Handler(), s.st, web.Options{})
	browser := browsers(t)

	ann := s.oidcPerson(browser, c, "ann")
	if got := ann.text("header .who"); got != "signed in as ann@example.com (operator, approver)" {
		t.Fatalf("ann: %q\n%s", got, ann.where())
	}
	if loc := get(ann, chromedp.Location()); loc != c.URL+"/approvals" {
		t.Errorf("after sign-in at %s, want the page asked for", loc)
	}
	ann.open("/runbooks/release", "#start")
	ann.run(chromedp.SendKeys(chromedp.ID("f-param-who"), "sso"), chromedp.Click(chromedp.ID("start-run")), chromedp.WaitVisible(chromedp.ID("run")))
	runID := get(ann, chromedp.AttributeValue(chromedp.ID("run"), "data-run")).Value

	vera := s.oidcPerson(browser, c, "vera")
	if got := vera.text("header .who"); got != "signed in as vera@example.com (viewer)" {
		t.Fatalf("vera: %q", got)
	}
	vera.open("/runs/"+runID, "#timeline")
	boardStatus := `document.querySelector('#timeline tr[data-key="board"] [data-field=status]').textContent`
	vera.until(boardStatus + ` === "waiting-approval"`)
	vera.is(`window.__samePage = true`)

	// The starter may not approve her own run.
	ann.open("/runs/"+runID+"/approvals/board", "#vote")
	ann.run(chromedp.SendKeys(chromedp.ID("f-input-ticket"), "CHG-1"), chromedp.Click(chromedp.ID("approve")),
		chromedp.WaitVisible(chromedp.ID("refused")))
	if got := ann.text("#refused .reason"); got != "ann@example.com started this run and may not approve it" {
		t.Errorf("self-approval: %q", got)
	}

	// The viewer has no form, and a forged vote is refused by the API.
	vic := &person{t: t, name: "vera", ctx: vera.ctx, base: c.URL}
	vic.open("/runs/"+runID+"/approvals/board", "#cannot")
	if !vic.is(`document.querySelectorAll("#vote, #cancel, #rerun").length === 0`) {
		t.Error("the viewer has action forms")
	}
	vic.post("/runs/"+runID+"/approvals/board", map[string]string{"csrf": "session", "decision": "approve", "input.ticket": "CHG-9"})
	if got := vic.text("#refused"); !strings.Contains(got, "this needs the approver role") {
		t.Errorf("the viewer's forged vote: %q", got)
	}
	vera.open("/runs/"+runID, "#timeline")
	vera.is(`window.__samePage = true`)

	// dan's mapped group puts the approval in his inbox.
	dan := s.oidcPerson(browser, c, "dan")
	if got := dan.text("header .who"); got != "signed in as dan@example.com (approver)" {
		t.Fatalf("dan: %q", got)
	}
	dan.open("/", "#mine")
	row := fmt.Sprintf(`#mine tr[data-run=%q]`, runID)
	dan.run(chromedp.Click(chromedp.CSS(row+" a.open")), chromedp.WaitVisible(chromedp.ID("vote")),
		chromedp.SendKeys(chromedp.ID("f-input-ticket"), "CHG-2"), chromedp.SendKeys(chromedp.ID("comment"), "fine by dan"),
		chromedp.Click(chromedp.ID("approve")), chromedp.WaitVisible(chromedp.ID("done")))
	if got := dan.text("#votes"); !strings.Contains(got, "dan@example.com") {
		t.Errorf("dan's vote on the page: %q", got)
	}
	if got := s.postAPI("bob", "/api/v1/runs/"+runID+"/approvals/board", map[string]any{"decision": "approve", "inputs": map[string]any{"ticket": "CHG-3"}}); got != 200 {
		t.Fatalf("bob's vote: %d", got)
	}
	vera.until(boardStatus + ` === "succeeded" && window.__samePage === true`)

	// Sign-out ends dan's session.
	kept := cookiesOf(t, dan)[web.SessionCookie]
	dan.run(chromedp.Click(chromedp.CSS("header button")), chromedp.WaitVisible(chromedp.ID("signin-oidc")))
	req, _ := http.NewRequest("GET", c.URL+"/approvals", nil)
	req.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: kept})
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if kept == "" || resp.StatusCode != http.StatusSeeOther {
		t.Errorf("dan's session cookie %q after sign-out: %d", kept, resp.StatusCode)
	}

	// mal's IdP group maps to nothing: refused, with the reason.
	mal := s.oidcPerson(browser, c, "mal")
	if got := mal.text("#refused"); got != "sign-in refused: signed in as mal@example.com, but no role is granted: no role is mapped from the IdP groups idp-marketing, and no default role is set" {
		t.Errorf("mal: %q", got)
	}
	if _, ok := cookiesOf(t, mal)[web.SessionCookie]; ok {
		t.Error("a refused sign-in left a session cookie")
	}

	// The audit names the OIDC users.
	var audit struct{ Entries []auditView }
	s.api("root", "/api/v1/audit?run="+runID, &audit)
	var trail []string
	for _, e := range audit.Entries {
		trail = append(trail, e.Actor+" "+e.Action+" "+e.Outcome+" "+e.Reason)
	}
	want := []string{"bob approval.vote ok ", "dan@example.com approval.vote ok ",
		"ann@example.com approval.vote refused ann@example.com started this run and may not approve it", "ann@example.com run.start ok "}
	if strings.Join(trail, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit:\n%s\nwant:\n%s", strings.Join(trail, "\n"), strings.Join(want, "\n"))
	}
	s.api("root", "/api/v1/audit?since=2000-01-01T00:00:00Z", &audit)
	trail = nil
	for _, e := range audit.Entries {
		if strings.HasPrefix(e.Action, "session.") {
			trail = append(trail, fmt.Sprintf("%s %s %s %v %v %v %v", e.Actor, e.Action, e.Outcome, e.Detail["method"], e.Detail["address"], e.Detail["roles"], e.Detail["groups"]))
		}
	}
	want = []string{
		"mal@example.com session.signin refused oidc 127.0.0.1 <nil> <nil>",
		"dan@example.com session.signout ok oidc 127.0.0.1 <nil> <nil>",
		"dan@example.com session.signin ok oidc 127.0.0.1 [approver] [board]",
		"vera@example.com session.signin ok oidc 127.0.0.1 [viewer] <nil>",
		"ann@example.com session.signin ok oidc 127.0.0.1 [operator approver] [board sre]",
	}
	if strings.Join(trail, "\n") != strings.Join(want, "\n") {
		t.Errorf("sign-in audit:\n%s\nwant:\n%s", strings.Join(trail, "\n"), strings.Join(want, "\n"))
	}
}

// cookiesOf is the cookies p's browser holds for 127.0.0.1, by name.
func cookiesOf(t *testing.T, p *person) map[string]string {
	t.Helper()
	out := map[string]string{}
	res, err := chromedp.Call(p.ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ck := range res.Cookies {
		out[ck.Name] = ck.Value
	}
	return out
}

// oidcClient is a browser without JavaScript: cookies, redirects
// followed up to the console's callback, which the test then takes
// (and may tamper with).
type oidcClient struct {
	*http.Client
	console *ssoConsole
}

func newOIDCClient(t *testing.T, c *ssoConsole) *oidcClient {
	jar, _ := cookiejar.New(nil)
	return &oidcClient{console: c, Client: &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if "http://"+req.URL.Host == c.URL {
			return http.ErrUseLastResponse
		}
		return nil
	}}}
}

var idpFormID = regexp.MustCompile(`name="id" value="([^"]+)"`)

// signIn starts a sign-in at the console and goes through the IdP's
// login form as user: the callback URL the IdP sends the browser to.
func (b *oidcClient) signIn(t *testing.T, next, user string) *url.URL {
	t.Helper()
	resp, err := b.Get(b.console.URL + "/login/oidc?next=" + url.QueryEscape(next)) // on to the IdP
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := idpFormID.FindStringSubmatch(string(page))
	if m == nil {
		t.Fatalf("the IdP's login page: %s %s", resp.Status, page)
	}
	resp, err = b.PostForm(b.console.idp.Issuer+"/login/username", url.Values{"id": {m[1]}, "username": {user}, "password": {ssotest.Password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cb, err := resp.Location()
	if err != nil || cb.Path != sso.CallbackPath {
		t.Fatalf("after the IdP's login form: %s, Location %v", resp.Status, cb)
	}
	return cb
}

// get is GET u: the status, the page's text (unescaped) and the session
// cookie it set, if any.
func (b *oidcClient) get(t *testing.T, u string) (*http.Response, string, *http.Cookie) {
	t.Helper()
	resp, err := b.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, ck := range resp.Cookies() {
		if ck.Name == web.SessionCookie && ck.MaxAge >= 0 {
			return resp, html.UnescapeString(string(body)), ck
		}
	}
	return resp, html.UnescapeString(string(body)), nil
}

// TestSSOLogin: a sign-in through the real IdP lands on the page asked
// for with a session; each refusal (a forged state, the IdP's error, no
// sign-in begun in this browser, a code the IdP refuses, a user without
// a role, a page to return to elsewhere) is the sign-in page with its
// reason and status, no session, and an audit entry; without SSO the
// routes say so.
func TestSSOLogin(t *testing.T) {
	base := newConsole(t, web.Options{})
	c := newSSOConsole(t, (&server.API{Store: base.st, Catalog: activities.Catalog()}).Handler(), base.st, web.Options{})
	const again = "sign in again; if it fails again, your admin finds the reason in the server's log"

	b := newOIDCClient(t, c)
	resp, page, ck := b.get(t, b.signIn(t, "/runs?status=running", "dan").String())
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/runs?status=running" || ck == nil || !ck.HttpOnly {
		t.Fatalf("sign-in: %s %s %+v %s", resp.Status, resp.Header.Get("Location"), ck, page)
	}
	if _, page, _ := b.get(t, c.URL+"/runs"); !strings.Contains(page, `<strong id="whoami">dan@example.com</strong> (approver)`) {
		t.Errorf("after sign-in: %s", page)
	}
	last := func() store.AuditEntry {
		t.Helper()
		e, _, err := base.st.AuditEntries(store.AuditFilter{Action: store.ActionSignIn, Limit: 1})
		if err != nil || len(e) != 1 {
			t.Fatalf("audit: %v %v", e, err)
		}
		return e[0]
	}
	if e := last(); e.Actor != "dan@example.com" || e.Outcome != "ok" || !regexp.MustCompile(`^session \d+$`).MatchString(e.Target) ||
		e.Detail != `{"method":"oidc","address":"127.0.0.1","roles":["approver"],"groups":["board"]}` {
		t.Errorf("the sign-in's audit: %+v", e)
	}

	for _, tc := range []struct {
		name   string
		user   string
		tamper func(b *oidcClient, cb *url.URL) *oidcClient // the browser that follows cb
		status int
		want   string
		actor  string
		reason string // the audit's, when not want's
	}{
		{name: "forged state", tamper: func(b *oidcClient, cb *url.URL) *oidcClient { setParam(cb, "state", "forged"); return b },
			status: 400, want: "sign-in refused: the sign-in answer does not match the sign-in this browser began (state mismatch): sign in again"},
		{name: "the provider's error", tamper: func(b *oidcClient, cb *url.URL) *oidcClient {
			cb.RawQuery = url.Values{"state": {cb.Query().Get("state")}, "error": {"access_denied"}, "error_description": {"the user said <b>no</b>"}}.Encode()
			return b
		}, status: 401, want: "sign-in refused: the identity provider refused the sign-in: access_denied: the user said <b>no</b>"},
		{name: "no sign-in begun in this browser", tamper: func(_ *oidcClient, cb *url.URL) *oidcClient { return newOIDCClient(t, c) },
			status: 400, want: "sign-in refused: no sign-in in progress in this browser (it expired, was used already or began elsewhere): sign in again"},
		{name: "a code the provider refuses", tamper: func(b *oidcClient, cb *url.URL) *oidcClient {
			setParam(cb, "code", cb.Query().Get("code")+"x")
			return b
		},
			status: 502, want: "sign-in failed: the identity provider did not accept the sign-in code: " + again,
			reason: "the identity provider did not accept the sign-in code: invalid_grant: invalid code"},
		{name: "no role", user: "mal", status: 403, actor: "mal@example.com",
			want: "sign-in refused: signed in as mal@example.com, but no role is granted: no role is mapped from the IdP groups idp-marketing, and no default role is set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newOIDCClient(t, c)
			user := tc.user
			if user == "" {
				user = "ann"
			}
			cb := b.signIn(t, "/", user)
			if tc.tamper != nil {
				b = tc.tamper(b, cb)
			}
			resp, page, ck := b.get(t, cb.String())
			if resp.StatusCode != tc.status || !strings.Contains(page, `id="refused">`+tc.want+"</p>") || ck != nil {
				t.Errorf("callback: %s (want %d), session %v, page:\n%s\nwant %q", resp.Status, tc.status, ck, page, tc.want)
			}
			if strings.Contains(page, "invalid_grant") {
				t.Error("the page shows the provider's answer to the server")
			}
			actor, reason := tc.actor, tc.reason
			if actor == "" {
				actor = "anonymous"
			}
			if reason == "" {
				reason = strings.SplitN(tc.want, ": ", 2)[1]
			}
			if e := last(); e.Actor != actor || e.Outcome != "refused" || e.Target != "oidc" || e.Reason != reason ||
				e.Detail != fmt.Sprintf(`{"method":"oidc","address":"127.0.0.1","status":%d}`, tc.status) {
				t.Errorf("audit: %+v", e)
			}
		})
	}

	t.Run("a page to return to elsewhere", func(t *testing.T) {
		resp, page, _ := newOIDCClient(t, c).get(t, c.URL+"/login/oidc?next=//evil.example/")
		if want := `sign-in refused: the page to return to must be a local path (starting with one /): "//evil.example/" starts with //, another site`; resp.StatusCode != 400 || !strings.Contains(page, want) {
			t.Errorf("%s %s", resp.Status, page)
		}
	})
	t.Run("refused callbacks count toward the limit", func(t *testing.T) {
		limited := newSSOConsole(t, (&server.API{Store: base.st, Catalog: activities.Catalog()}).Handler(), base.st, web.Options{LoginFailures: 2})
		b := newOIDCClient(t, limited)
		for range 2 {
			cb := b.signIn(t, "/", "ann")
			setParam(cb, "state", "forged")
			if resp, _, _ := b.get(t, cb.String()); resp.StatusCode != 400 {
				t.Fatalf("a forged callback: %s", resp.Status)
			}
		}
		for _, path := range []string{"/login/oidc", sso.CallbackPath + "?state=x&code=y"} {
			resp, page, _ := b.get(t, limited.URL+path)
			if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || !strings.Contains(page, "too many failed sign-ins from your address: try again in ") {
				t.Errorf("GET %s past the limit: %s %q", path, resp.Status, resp.Header.Get("Retry-After"))
			}
		}
	})
	t.Run("single sign-on off", func(t *testing.T) {
		for _, path := range []string{"/login/oidc", sso.CallbackPath + "?state=x&code=y"} {
			resp, page := base.do(base.browser(), "GET", path, nil)
			if resp.StatusCode != 404 || !strings.Contains(page, "single sign-on is not configured on this server: sign in with an API token") {
				t.Errorf("GET %s: %d %s", path, resp.StatusCode, page)
			}
		}
		if _, page := base.do(base.browser(), "GET", "/login", nil); strings.Contains(page, "signin-oidc") {
			t.Error("the sign-in page offers a provider without one")
		}
	})
}

func setParam(u *url.URL, key, value string) {
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
}
