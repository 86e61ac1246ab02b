package sso

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// FlowLifetime is how long a begun sign-in may take: the cookie that holds
// its state, nonce and PKCE verifier expires after it.
const FlowLifetime = 10 * time.Minute

// Cookie names. Over TLS the __Host- prefix makes browsers refuse the
// cookie from a sibling subdomain, which could otherwise plant its own
// state and verifier (a sign-in as the attacker).
const (
	cookieName       = "runbook_oidc"
	secureCookieName = "__Host-runbook_oidc"
)

// maxReturnTo bounds the path kept in the cookie.
const maxReturnTo = 1024

// flow is what Start keeps in the browser for Finish.
type flow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	ReturnTo string `json:"r"`
}

func newFlow(returnTo string) flow {
	return flow{State: random(), Nonce: random(), Verifier: random(), ReturnTo: returnTo}
}

// random is 256 bits, base64url: state, nonce and a PKCE verifier (43
// characters, within RFC 7636's 43 to 128).
func random() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand since Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (f flow) encode() string {
	b, _ := json.Marshal(f)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeFlow(s string) (flow, bool) {
	var f flow
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &f) != nil || f.State == "" || f.Nonce == "" || f.Verifier == "" {
		return flow{}, false
	}
	return f, true
}

// CheckReturnTo answers the local path to go back to after signing in: ""
// is "/"; anything but a path on this site is ErrReturnTo. A browser reads
// "//host", "/\host" and a path with a tab or newline in it ("/\t/host")
// as another site, so each is refused.
func CheckReturnTo(s string) (string, error) {
	if s == "" {
		return "/", nil
	}
	bad := func(why string) (string, error) { return "", fmt.Errorf("%w: %q %s", ErrReturnTo, clip(s, 80), why) }
	switch {
	case len(s) > maxReturnTo:
		return bad(fmt.Sprintf("is longer than %d bytes", maxReturnTo))
	case !strings.HasPrefix(s, "/"):
		return bad("does not start with /")
	case strings.HasPrefix(s, "//"):
		return bad("starts with //, another site")
	case strings.Contains(s, `\`):
		return bad(`has a \, which browsers read as /`)
	case strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return bad("has a control character")
	}
	if u, err := url.Parse(s); err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return bad("is not a path")
	}
	return s, nil
}

// secure says whether the browser reaches us over TLS: the redirect URL
// says so for a proxy that terminates TLS in front of the server.
func (p *Provider) secure(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(p.cfg.RedirectURL, "https://")
}

func (p *Provider) cookieName(r *http.Request) string {
	if p.secure(r) {
		return secureCookieName
	}
	return cookieName
}

// setFlow keeps f in the browser. Lax is what lets the cookie come back on
// the provider's top-level redirect to the callback; Path=/ is what the
// __Host- prefix needs.
func (p *Provider) setFlow(w http.ResponseWriter, r *http.Request, f flow) {
	http.SetCookie(w, &http.Cookie{
		Name: p.cookieName(r), Value: f.encode(), Path: "/", MaxAge: int(FlowLifetime / time.Second),
		HttpOnly: true, Secure: p.secure(r), SameSite: http.SameSiteLaxMode,
	})
}

func (p *Provider) clearFlow(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: p.cookieName(r), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: p.secure(r), SameSite: http.SameSiteLaxMode,
	})
}

// readFlow is the browser's flow, if it has one.
func (p *Provider) readFlow(r *http.Request) (flow, bool) {
	c, err := r.Cookie(p.cookieName(r))
	if err != nil {
		return flow{}, false
	}
	return decodeFlow(c.Value)
}
