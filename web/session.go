package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/opsrunbook/runbook/store"
)

// The console's cookies: the session, and the one that pairs a sign-in
// form with the browser that loaded it (login CSRF).
const (
	SessionCookie = "runbook_session"
	loginCookie   = "runbook_login"
	csrfField     = "csrf"
)

// user is the signed-in caller of a request.
type user struct {
	session *store.Session
	id      *store.Identity
}

type userHandler func(w http.ResponseWriter, r *http.Request, u *user)

// signedIn runs h for a request with a live session. Without one, a page
// redirects to /login and a form post is refused (403). A post must carry
// the session's CSRF token: refused (403) otherwise.
func (c *Console) signedIn(h userHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, err := c.user(r)
		if err != nil {
			if errors.Is(err, errNoSession) || errors.Is(err, store.ErrBadSession) || errors.Is(err, store.ErrBadToken) {
				if r.Method == http.MethodGet || r.Method == http.MethodHead {
					http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
					return
				}
				c.fail(w, r, nil, http.StatusForbidden, "you are not signed in: "+err.Error(), nil)
				return
			}
			c.fail(w, r, nil, http.StatusServiceUnavailable, err.Error(), nil)
			return
		}
		if r.Method == http.MethodPost {
			got := r.PostFormValue(csrfField)
			if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(u.session.CSRF)) != 1 {
				c.fail(w, r, u, http.StatusForbidden, "the form's CSRF token is missing or wrong: reload the page and send it again", nil)
				return
			}
		}
		h(w, r, u)
	}
}

var errNoSession = errors.New("no session")

func (c *Console) user(r *http.Request) (*user, error) {
	ck, err := r.Cookie(SessionCookie)
	if err != nil || ck.Value == "" {
		return nil, errNoSession
	}
	sess, id, err := c.opts.Store.WithContext(r.Context()).SessionIdentity(ck.Value)
	if err != nil {
		return nil, err
	}
	return &user{session: sess, id: id}, nil
}

// secure reports whether cookies get the Secure attribute: the request
// came over TLS, or the console's public URL is https.
func (c *Console) secure(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(strings.ToLower(c.opts.PublicURL), "https://")
}

// StartSession signs id in: a new session, and its cookie on w. method
// names the sign-in ("token" for an API token, whose state the session
// then follows at every use). Every sign-in method ends here.
func (c *Console) StartSession(w http.ResponseWriter, r *http.Request, id *store.Identity, method string) error {
	secret, sess, err := c.opts.Store.WithContext(r.Context()).CreateSession(id, method, c.opts.SessionTTL)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: secret, Path: "/", HttpOnly: true, Secure: c.secure(r),
		SameSite: http.SameSiteLaxMode, Expires: sess.ExpiresAt})
	return nil
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	c.showLogin(w, r, http.StatusOK, "")
}

func (c *Console) showLogin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	nonce := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: nonce, Path: "/login", HttpOnly: true, Secure: c.secure(r),
		SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	c.render(w, r, nil, status, "login", map[string]any{"Next": localPath(r.FormValue("next")), "Nonce": nonce, "Error": msg})
}

// login exchanges an API token for a session. The form must carry the
// nonce of the cookie its page set, so another site cannot sign a
// browser in as someone else.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	ck, err := r.Cookie(loginCookie)
	got := r.PostFormValue(csrfField)
	if err != nil || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(ck.Value)) != 1 {
		c.showLogin(w, r, http.StatusForbidden, "the sign-in form expired: send it again")
		return
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	if token == "" {
		c.showLogin(w, r, http.StatusUnauthorized, "paste an API token")
		return
	}
	id, err := c.opts.Store.WithContext(r.Context()).Authenticate(token)
	if errors.Is(err, store.ErrBadToken) {
		c.showLogin(w, r, http.StatusUnauthorized, "sign-in refused: "+err.Error())
		return
	}
	if err == nil {
		err = c.StartSession(w, r, id, "token")
	}
	if err != nil {
		c.showLogin(w, r, http.StatusServiceUnavailable, "sign-in failed: "+err.Error())
		return
	}
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: "", Path: "/login", MaxAge: -1})
	http.Redirect(w, r, localPath(r.PostFormValue("next")), http.StatusSeeOther)
}

// logout ends the session: its cookie no longer works, even if kept.
func (c *Console) logout(w http.ResponseWriter, r *http.Request, u *user) {
	ck, _ := r.Cookie(SessionCookie)
	if err := c.opts.Store.WithContext(r.Context()).EndSession(ck.Value); err != nil {
		c.fail(w, r, u, http.StatusServiceUnavailable, "sign-out failed: "+err.Error(), nil)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: c.secure(r), SameSite: http.SameSiteLaxMode, MaxAge: -1})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// localPath is next when it is a path of this site, else /: a sign-in
// never sends the browser elsewhere.
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.ContainsAny(next, "\r\n") {
		return "/"
	}
	return next
}
