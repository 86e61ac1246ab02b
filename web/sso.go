package web

import (
	"errors"
	"log"
	"net/http"

	"github.com/opsrunbook/runbook/sso"
	"github.com/opsrunbook/runbook/store"
)

// SSO signs people in through an identity provider; *sso.Provider is one.
// Start redirects the browser to the provider, to come back to returnTo
// (a local path) once signed in; Finish completes the sign-in at
// sso.CallbackPath with who signed in and the path to go back to, or an
// error wrapping one of sso's Err* values. Name is what the sign-in
// button calls the provider.
type SSO interface {
	Name() string
	Start(w http.ResponseWriter, r *http.Request, returnTo string)
	Finish(w http.ResponseWriter, r *http.Request) (*store.Identity, string, error)
}

const errNoSSO = "single sign-on is not configured on this server: sign in with an API token"

// methodOIDC is how sessions made by SSO say they were made.
const methodOIDC = "oidc"

// oidcStart begins a sign-in at the provider, to come back to next (a
// local path, else refused with the login page: 400).
func (c *Console) oidcStart(w http.ResponseWriter, r *http.Request) {
	if c.opts.SSO == nil {
		c.showLogin(w, r, http.StatusNotFound, errNoSSO)
		return
	}
	if wait := c.limiter.wait(limitKey(r)); wait > 0 {
		c.tooMany(w, r, wait)
		return
	}
	next, err := sso.CheckReturnTo(r.URL.Query().Get("next"))
	if err != nil {
		c.showLogin(w, r, http.StatusBadRequest, "sign-in refused: "+err.Error())
		return
	}
	c.opts.SSO.Start(w, r, next)
}

// oidcCallback finishes a sign-in: a session for who the provider signed
// in, or the login page saying why not. A refusal counts toward the
// client's failed sign-ins.
func (c *Console) oidcCallback(w http.ResponseWriter, r *http.Request) {
	if c.opts.SSO == nil {
		c.showLogin(w, r, http.StatusNotFound, errNoSSO)
		return
	}
	addr := limitKey(r)
	if wait := c.limiter.wait(addr); wait > 0 {
		c.tooMany(w, r, wait)
		return
	}
	id, returnTo, err := c.opts.SSO.Finish(w, r)
	if err != nil {
		status, msg := signInRefusal(err)
		actor := anonymous
		var nr *sso.NoRolesError
		if errors.As(err, &nr) {
			actor = nr.User
		}
		c.limiter.fail(addr)
		c.auditRefusal(r, actor, methodOIDC, status, err.Error())
		c.showLogin(w, r, status, msg)
		return
	}
	if err := c.StartSession(w, r, id, methodOIDC); err != nil {
		c.showLogin(w, r, http.StatusServiceUnavailable, "sign-in failed: "+err.Error())
		return
	}
	http.Redirect(w, r, localPath(returnTo), http.StatusSeeOther)
}

// signInRefusal is the status and the message the login page shows for a
// refused OpenID Connect sign-in. What the user can act on is said as it
// is; an exchange or token failure, whose detail is the server's business
// (the provider's answer, go-oidc's reason), says only which step failed
// and goes whole to the server's log and the audit.
func signInRefusal(err error) (int, string) {
	const again = ": sign in again; if it fails again, your admin finds the reason in the server's log"
	switch {
	case errors.Is(err, sso.ErrNoFlow), errors.Is(err, sso.ErrState), errors.Is(err, sso.ErrCallback), errors.Is(err, sso.ErrReturnTo):
		return http.StatusBadRequest, "sign-in refused: " + err.Error()
	case errors.Is(err, sso.ErrIdP):
		return http.StatusUnauthorized, "sign-in refused: " + err.Error()
	case errors.Is(err, sso.ErrNoRoles), errors.Is(err, sso.ErrClaims):
		return http.StatusForbidden, "sign-in refused: " + err.Error()
	case errors.Is(err, sso.ErrExchange):
		log.Printf("web: oidc sign-in: %v", err)
		return http.StatusBadGateway, "sign-in failed: " + sso.ErrExchange.Error() + again
	case errors.Is(err, sso.ErrToken):
		log.Printf("web: oidc sign-in: %v", err)
		return http.StatusBadGateway, "sign-in failed: " + sso.ErrToken.Error() + again
	case errors.Is(err, sso.ErrUserinfo):
		log.Printf("web: oidc sign-in: %v", err)
		return http.StatusBadGateway, "sign-in failed: " + sso.ErrUserinfo.Error() + again
	}
	log.Printf("web: oidc sign-in: %v", err)
	return http.StatusBadGateway, "sign-in failed: the identity provider could not be asked" + again
}
