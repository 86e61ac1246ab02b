package sso

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/opsrunbook/runbook/store"
)

// requestTimeout bounds each call to the provider (discovery, keys, token,
// userinfo), so a stuck provider fails a sign-in instead of holding it.
const requestTimeout = 15 * time.Second

// Provider signs people in through one OpenID Connect provider. It is safe
// for concurrent use and keeps nothing between requests: a sign-in's state
// lives in the browser's cookie, so any replica can finish it.
type Provider struct {
	cfg      Config
	client   *http.Client
	op       *oidc.Provider
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
}

// New checks cfg (a *ConfigError names each wrong field), fills its
// defaults and reads the provider's discovery document at Issuer, which
// must name the same issuer and, if it lists PKCE methods, S256.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	if p := cfg.problems(fieldNames, ""); p != nil {
		return nil, &ConfigError{Problems: p}
	}
	cfg.Scopes = slices.Clone(cfg.Scopes)
	cfg.Groups, cfg.Roles = maps.Clone(cfg.Groups), maps.Clone(cfg.Roles)
	cfg.DefaultRoles = slices.Clone(cfg.DefaultRoles)
	cfg.defaults()
	p := &Provider{cfg: cfg, client: &http.Client{Timeout: requestTimeout}}
	op, err := oidc.NewProvider(oidc.ClientContext(ctx, p.client), cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("sso: discovery at %s: %w", cfg.Issuer, err)
	}
	var meta struct {
		PKCE []string `json:"code_challenge_methods_supported"`
	}
	if err := op.Claims(&meta); err != nil {
		return nil, fmt.Errorf("sso: discovery at %s: %w", cfg.Issuer, err)
	}
	if len(meta.PKCE) > 0 && !slices.Contains(meta.PKCE, "S256") {
		return nil, fmt.Errorf("sso: %s does not offer PKCE with S256 (code_challenge_methods_supported: %v)", cfg.Issuer, meta.PKCE)
	}
	endpoint := op.Endpoint()
	if cfg.ClientSecret == "" {
		// a public client names itself in the body and proves itself by PKCE
		endpoint.AuthStyle = oauth2.AuthStyleInParams
	}
	p.op = op
	p.oauth = oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Endpoint: endpoint,
		RedirectURL: cfg.RedirectURL, Scopes: cfg.Scopes}
	p.verifier = op.Verifier(&oidc.Config{ClientID: cfg.ClientID})
	return p, nil
}

// Name is what the sign-in button calls the provider: Config.Name, or
// the issuer's host.
func (p *Provider) Name() string { return p.cfg.Name }

// Config is the configuration in use, defaults filled.
func (p *Provider) Config() Config { return p.cfg }

// Start begins a sign-in: it keeps a new state, nonce and PKCE verifier in
// a short-lived cookie and redirects (302) to the provider. A returnTo that
// is not a local path (CheckReturnTo) answers 400 and sets nothing.
func (p *Provider) Start(w http.ResponseWriter, r *http.Request, returnTo string) {
	returnTo, err := CheckReturnTo(returnTo)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f := newFlow(returnTo)
	p.setFlow(w, r, f)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, p.oauth.AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier)), http.StatusFound)
}

// Finish completes a sign-in at the redirect URL: it checks the state
// against the browser's cookie, takes the provider's error if it sent one,
// exchanges the code with the PKCE verifier, verifies the ID token
// (signature, issuer, audience, expiry, nonce) and maps its claims to an
// identity. It answers the identity and the local path to go back to. The
// cookie is cleared whatever the outcome: a sign-in is finished once.
// Errors wrap the Err* values of this package.
func (p *Provider) Finish(w http.ResponseWriter, r *http.Request) (*store.Identity, string, error) {
	f, ok := p.readFlow(r)
	if _, err := r.Cookie(p.cookieName(r)); err == nil {
		p.clearFlow(w, r)
	}
	if !ok {
		return nil, "", ErrNoFlow
	}
	q := r.URL.Query()
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1 {
		return nil, "", ErrState
	}
	if code := q.Get("error"); code != "" {
		return nil, "", &IdPError{Code: clip(code, 60), Description: clip(q.Get("error_description"), 300)}
	}
	code := q.Get("code")
	if code == "" {
		return nil, "", ErrCallback
	}
	returnTo, err := CheckReturnTo(f.ReturnTo)
	if err != nil {
		return nil, "", err
	}
	ctx := oidc.ClientContext(r.Context(), p.client)
	tok, err := p.oauth.Exchange(ctx, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		return nil, "", fmt.Errorf("%w: %s", ErrExchange, oauthProblem(err))
	}
	claims, err := p.verify(ctx, tok, f.Nonce)
	if err != nil {
		return nil, "", err
	}
	id, err := p.identity(claims)
	if err != nil {
		return nil, "", err
	}
	return id, returnTo, nil
}

// verify checks the ID token of tok and answers its claims, with the
// user's and groups claims from the userinfo endpoint when the ID token
// lacks them (providers such as this test's put only sub in an ID token
// issued with an access token).
func (p *Provider) verify(ctx context.Context, tok *oauth2.Token, nonce string) (map[string]any, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, fmt.Errorf("%w: the token answer has no id_token (is the openid scope requested?)", ErrToken)
	}
	idt, err := p.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrToken, err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return nil, fmt.Errorf("%w: its nonce is not the one this sign-in sent", ErrToken)
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrToken, err)
		}
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrToken, err)
	}
	_, hasUser := claims[p.cfg.UserClaim]
	_, hasGroups := claims[p.cfg.GroupsClaim]
	if (hasUser && hasGroups) || p.op.UserInfoEndpoint() == "" || tok.AccessToken == "" {
		return claims, nil
	}
	ui, err := p.op.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUserinfo, err)
	}
	if ui.Subject != idt.Subject {
		// OpenID Connect Core 5.3.4: a mismatched answer must not be used
		return nil, fmt.Errorf("%w: userinfo answered for subject %q, the ID token is for %q", ErrClaims, ui.Subject, idt.Subject)
	}
	more := map[string]any{}
	if err := ui.Claims(&more); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUserinfo, err)
	}
	for k, v := range more {
		if _, ok := claims[k]; !ok {
			claims[k] = v
		}
	}
	return claims, nil
}

// oauthProblem is the provider's error code and description, or the
// transport's error.
func oauthProblem(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.ErrorCode != "" {
		s := re.ErrorCode
		if re.ErrorDescription != "" {
			s += ": " + clip(re.ErrorDescription, 300)
		}
		return s
	}
	return err.Error()
}
