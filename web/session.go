package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/url"
	"strings"
	"time"

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

// StartSession signs id in: a new session, audited (session.signin), and
// its cookie on w. method names the sign-in ("token" for an API token,
// whose state the session then follows at every use; "oidc"). Every
// sign-in method ends here, and so does pruning ended sessions.
func (c *Console) StartSession(w http.ResponseWriter, r *http.Request, id *store.Identity, method string) error {
	c.prune(r)
	st := c.opts.Store.WithContext(r.Context())
	secret, sess, err := st.CreateSession(id, method, c.opts.SessionTTL)
	if err != nil {
		return err
	}
	if err := c.auditSession(r, store.ActionSignIn, id.User, sessionTarget(sess), method, id, 0, ""); err != nil {
		// not audited, not signed in
		_ = st.EndSession(secret)
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: secret, Path: "/", HttpOnly: true, Secure: c.secure(r),
		SameSite: http.SameSiteLaxMode, Expires: sess.ExpiresAt})
	return nil
}

// anonymous is the actor of a refused sign-in that names nobody.
const anonymous = "anonymous"

func sessionTarget(s *store.Session) string { return fmt.Sprintf("session %d", s.ID) }

// auditSession records a sign-in or sign-out; refused is the reason of a
// refused sign-in, with its status.
func (c *Console) auditSession(r *http.Request, action, actor, target, method string, id *store.Identity, status int, refused string) error {
	d := store.SessionDetail{Method: method, Address: clientAddress(r), Status: status}
	if id != nil && action == store.ActionSignIn {
		d.Roles, d.Groups = id.Roles, id.Groups
	}
	err := c.opts.Store.WithContext(r.Context()).Append(store.AuditRecord{Actor: actor, Action: action, Target: target, Refused: refused, Detail: d})
	if err != nil {
		log.Printf("web: audit %s of %s: %v", action, actor, err)
	}
	return err
}

// auditRefusal records a refused sign-in; the refusal is answered
// whether or not the audit could be written.
func (c *Console) auditRefusal(r *http.Request, actor, method string, status int, reason string) {
	_ = c.auditSession(r, store.ActionSignIn, actor, method, method, nil, status, reason)
}

// PruneEvery is how often, at most, a sign-in deletes the sessions that
// have expired or were ended.
const PruneEvery = 10 * time.Minute

func (c *Console) prune(r *http.Request) {
	c.pruneMu.Lock()
	due := time.Since(c.pruned) >= PruneEvery
	if due {
		c.pruned = time.Now()
	}
	c.pruneMu.Unlock()
	if !due {
		return
	}
	if _, err := c.opts.Store.WithContext(r.Context()).PruneSessions(time.Now()); err != nil {
		log.Printf("web: prune sessions: %v", err)
	}
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
	sso := ""
	if c.opts.SSO != nil {
		sso = c.opts.SSO.Name()
	}
	c.render(w, r, nil, status, "login", map[string]any{"Next": localPath(r.FormValue("next")), "Nonce": nonce, "Error": msg, "SSO": sso})
}

// login exchanges an API token for a session. The form must carry the
// nonce of the cookie its page set, so another site cannot sign a
// browser in as someone else. A refused token counts toward the client's
// failed sign-ins; past the limit every sign-in from it is refused (429).
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	key := limitKey(r)
	if wait := c.limiter.wait(key); wait > 0 {
		c.tooMany(w, r, wait)
		return
	}
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
		c.limiter.fail(key)
		c.auditRefusal(r, anonymous, "token", http.StatusUnauthorized, err.Error())
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
	err := c.auditSession(r, store.ActionSignOut, u.id.User, sessionTarget(u.session), u.session.Method, u.id, 0, "")
	if err == nil {
		err = c.opts.Store.WithContext(r.Context()).EndSession(ck.Value)
	}
	if err != nil {
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
