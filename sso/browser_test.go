package sso

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/opsrunbook/runbook/store"
)

// site is the runbook side: a server on 127.0.0.1 that starts sign-ins at
// /login?return=PATH, finishes them at CallbackPath (303 to the path to
// return to, or 401 with the error) and answers any other path with its
// name.
type site struct {
	URL     string
	p       *Provider
	results chan finished
}

type finished struct {
	id       *store.Identity
	returnTo string
	err      error
}

// redirectURL is where a site on ln finishes sign-ins.
func redirectURL(ln net.Listener) string { return "http://" + ln.Addr().String() + CallbackPath }

// startSite serves p on ln until the test ends.
func startSite(t *testing.T, ln net.Listener, p *Provider) *site {
	t.Helper()
	s := &site{URL: "http://" + ln.Addr().String(), p: p, results: make(chan finished, 8)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		p.Start(w, r, r.URL.Query().Get("return"))
	})
	mux.HandleFunc("GET "+CallbackPath, func(w http.ResponseWriter, r *http.Request) {
		id, returnTo, err := p.Finish(w, r)
		s.results <- finished{id, returnTo, err}
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		http.Redirect(w, r, returnTo, http.StatusSeeOther)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "page "+r.URL.RequestURI())
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

// newSite is a provider for cfg against idp, served on ln.
func newSite(t *testing.T, ln net.Listener, cfg Config) *site {
	t.Helper()
	p, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return startSite(t, ln, p)
}

// result is what the site's last Finish answered.
func (s *site) result(t *testing.T) finished {
	t.Helper()
	select {
	case f := <-s.results:
		return f
	case <-time.After(10 * time.Second):
		t.Fatal("the site's callback was not called")
		return finished{}
	}
}

// browser is an http.Client with a cookie jar that stops before the
// site's callback, so a test can look at (and tamper with) what the IdP
// sends back.
type browser struct {
	*http.Client
	jar  *cookiejar.Jar
	site *site
}

func newBrowser(t *testing.T, s *site) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{jar: jar, site: s}
	b.Client = &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Path == CallbackPath && "http://"+req.URL.Host == s.URL {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return b
}

// loginPage starts a sign-in at the site and answers the IdP's login page.
func (b *browser) loginPage(t *testing.T, returnTo string) (*http.Response, string) {
	t.Helper()
	resp, err := b.Get(b.site.URL + "/login?return=" + url.QueryEscape(returnTo))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "password") {
		t.Fatalf("the IdP's login page: %s %s", resp.Status, body)
	}
	return resp, string(body)
}

// signIn goes through the IdP's login form as user and answers the
// callback URL the IdP redirects to, not yet followed.
func (b *browser) signIn(t *testing.T, returnTo, user string) *url.URL {
	t.Helper()
	page, body := b.loginPage(t, returnTo)
	action, fields := form(t, page.Request.URL, body)
	fields.Set("username", user)
	fields.Set("password", password)
	resp, err := b.PostForm(action, fields)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if resp.StatusCode != http.StatusFound || err != nil || loc.Path != CallbackPath {
		t.Fatalf("after the login form: %s, Location %v (%v)", resp.Status, loc, err)
	}
	return loc
}

// callback follows the IdP's redirect to the site and answers the site's
// last response and what Finish answered.
func (b *browser) callback(t *testing.T, u *url.URL) (*http.Response, string, finished) {
	t.Helper()
	resp, err := b.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body), b.site.result(t)
}

// flowCookie is the sign-in cookie the browser holds for the site.
func (b *browser) flowCookie(t *testing.T) *http.Cookie {
	t.Helper()
	u, _ := url.Parse(b.site.URL)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == cookieName {
			return c
		}
	}
	return nil
}

func (b *browser) setFlowCookie(t *testing.T, value string) {
	u, _ := url.Parse(b.site.URL)
	b.jar.SetCookies(u, []*http.Cookie{{Name: cookieName, Value: value, Path: "/"}})
}

// form reads the first form of an HTML page as a browser would: its
// action, resolved against the page's URL, and its inputs' values.
func form(t *testing.T, page *url.URL, body string) (string, url.Values) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var action string
	fields := url.Values{}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			attr := map[string]string{}
			for _, a := range n.Attr {
				attr[a.Key] = a.Val
			}
			switch n.Data {
			case "form":
				if action == "" {
					action = attr["action"]
				}
			case "input":
				if attr["name"] != "" {
					fields.Set(attr["name"], attr["value"])
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	to, err := page.Parse(action)
	if err != nil || action == "" {
		t.Fatalf("no form action in the login page: %q", body)
	}
	return to.String(), fields
}
