// Package web is the web console: pages for approvers and responders,
// served next to the API from the same binary. Every action goes through
// the API's own handlers in process, as the signed-in user (see api.go),
// so the pages apply exactly the API's rules and the audit records the
// same caller.
package web

import (
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/opsrunbook/runbook/sso"
	"github.com/opsrunbook/runbook/store"
)

// MaxForm bounds a form post's body.
const MaxForm = 1 << 20

// DefaultSessionTTL is how long a console session lasts.
const DefaultSessionTTL = 12 * time.Hour

// CSP is the Content-Security-Policy of every console answer: scripts and
// styles from the console's own /static/ only, nothing inline.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configure a Console.
type Options struct {
	// API is the API's handler (server.API.Handler()): the console calls
	// it in process, and serves every path that is not its own with it.
	API   http.Handler
	Store *store.Store
	// SessionTTL is a session's lifetime (0: DefaultSessionTTL).
	SessionTTL time.Duration
	// PublicURL is where users reach the console (RUNBOOK_PUBLIC_URL); an
	// https URL makes the session cookie Secure behind a TLS proxy.
	PublicURL string
	// SSO signs people in through an OpenID Connect provider
	// (*sso.Provider), at /login/oidc and sso.CallbackPath; nil: API
	// tokens only.
	SSO SSO
	// LoginFailures failed sign-ins from one address within LoginWindow
	// make it wait (0: DefaultLoginFailures, DefaultLoginWindow).
	LoginFailures int
	LoginWindow   time.Duration
}

// Console serves the web console.
type Console struct {
	opts    Options
	pages   map[string]*template.Template
	mux     *http.ServeMux
	limiter *loginLimiter

	pruneMu sync.Mutex
	pruned  time.Time // the last pruning of ended sessions
}

// New builds the console.
func New(o Options) (*Console, error) {
	if o.SessionTTL <= 0 {
		o.SessionTTL = DefaultSessionTTL
	}
	c := &Console{opts: o, pages: map[string]*template.Template{}, limiter: newLoginLimiter(o.LoginFailures, o.LoginWindow)}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, err
		}
		c.pages[name] = t
	}
	c.routes()
	return c, nil
}

func (c *Console) routes() {
	m := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	m.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	m.HandleFunc("GET /login", c.loginPage)
	m.HandleFunc("POST /login", c.login)
	m.HandleFunc("GET /login/oidc", c.oidcStart)
	m.HandleFunc("GET "+sso.CallbackPath, c.oidcCallback)
	m.HandleFunc("POST /logout", c.signedIn(c.logout))
	m.HandleFunc("GET /{$}", c.signedIn(c.inbox))
	m.HandleFunc("GET /approvals", c.signedIn(c.inbox))
	m.HandleFunc("GET /runs", c.signedIn(c.runsPage))
	m.HandleFunc("GET /runs/{id}", c.signedIn(c.runPage))
	m.HandleFunc("GET /runs/{id}/events", c.signedIn(c.runEvents))
	m.HandleFunc("GET /runs/{id}/logs", c.signedIn(c.logsPage))
	m.HandleFunc("POST /runs/{id}/cancel", c.signedIn(c.cancel))
	m.HandleFunc("POST /runs/{id}/rerun", c.signedIn(c.rerun))
	m.HandleFunc("POST /runs/{id}/steps/{step}/decision", c.signedIn(c.decide))
	m.HandleFunc("GET /runs/{id}/approvals/{step}", c.signedIn(c.approvalPage))
	m.HandleFunc("POST /runs/{id}/approvals/{step}", c.signedIn(c.vote))
	m.HandleFunc("GET /incidents", c.signedIn(c.incidentsPage))
	m.HandleFunc("GET /incidents/{id}", c.signedIn(c.incidentPage))
	m.HandleFunc("GET /incidents/{id}/timeline.md", c.signedIn(c.incidentMarkdown))
	m.HandleFunc("POST /incidents/{id}/notes", c.signedIn(c.incidentNote))
	m.HandleFunc("POST /incidents/{id}/{action}", c.signedIn(c.incidentAction))
	m.HandleFunc("GET /runbooks", c.signedIn(c.runbooksPage))
	m.HandleFunc("GET /runbooks/{name}", c.signedIn(c.runbookPage))
	m.HandleFunc("POST /runbooks/{name}/runs", c.signedIn(c.startRun))
	m.HandleFunc("POST /runbooks/{name}/preview", c.signedIn(c.previewStart))
	m.HandleFunc("POST /runbooks/{name}/schedules/{schedule}/{action}", c.signedIn(c.scheduleAction))
	c.mux = m
}

// consolePath reports whether the console serves path (its sign-in
// routes /login/oidc and sso.CallbackPath included, with single sign-on
// off too, to say so); the API serves every other one (/api/, /hooks/,
// /healthz, /readyz, /metrics, /openapi.json), untouched.
func consolePath(path string) bool {
	switch path {
	case "/", "/login", "/login/oidc", sso.CallbackPath, "/logout", "/approvals", "/runs", "/runbooks", "/incidents":
		return true
	}
	for _, p := range []string{"/static/", "/runs/", "/runbooks/", "/incidents/"} {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// Handler serves the console's paths and hands every other to the API.
func (c *Console) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !consolePath(r.URL.Path) {
			c.opts.API.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, MaxForm)
		}
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		c.mux.ServeHTTP(w, r)
	})
}
