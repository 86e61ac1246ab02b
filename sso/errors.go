package sso

import (
	"errors"
	"fmt"
	"strings"
)

// Why a sign-in was refused. Finish wraps each of them with the detail;
// callers branch with errors.Is and may show Error() (it holds no secret,
// but an IdP's error description is the provider's text: escape it).
var (
	// ErrNoFlow: the callback came without this browser's sign-in cookie:
	// it expired (10 minutes), was used already, or the sign-in began in
	// another browser.
	ErrNoFlow = errors.New("no sign-in in progress in this browser (it expired, was used already or began elsewhere): sign in again")
	// ErrState: the callback's state is not the one this browser was sent
	// with (a forged or stale callback).
	ErrState = errors.New("the sign-in answer does not match the sign-in this browser began (state mismatch): sign in again")
	// ErrIdP: the provider answered with an error (an *IdPError).
	ErrIdP = errors.New("the identity provider refused the sign-in")
	// ErrCallback: the callback has neither a code nor an error.
	ErrCallback = errors.New("the sign-in answer has no code")
	// ErrReturnTo: the page to go back to is not a local path.
	ErrReturnTo = errors.New("the page to return to must be a local path (starting with one /)")
	// ErrExchange: the provider would not exchange the code for tokens
	// (a tampered, replayed or expired code, or a wrong PKCE verifier).
	ErrExchange = errors.New("the identity provider did not accept the sign-in code")
	// ErrToken: the ID token is missing or does not verify (signature,
	// issuer, audience, expiry, nonce, access token hash).
	ErrToken = errors.New("the identity provider's ID token is not valid")
	// ErrUserinfo: the userinfo endpoint, asked for claims the ID token
	// lacks, failed or answered something that is not claims.
	ErrUserinfo = errors.New("the identity provider's userinfo endpoint did not answer")
	// ErrClaims: the claims do not name a user runbook can use.
	ErrClaims = errors.New("the identity provider's claims do not name a user")
	// ErrNoRoles: the user signed in but holds no role.
	ErrNoRoles = errors.New("signed in, but no role is granted")
)

// IdPError is the error a provider sent back to the callback
// (RFC 6749 section 4.1.2.1); it matches ErrIdP.
type IdPError struct {
	Code        string // e.g. access_denied, login_required
	Description string // the provider's text, at most 300 characters
}

func (e *IdPError) Error() string {
	s := ErrIdP.Error() + ": " + e.Code
	if e.Description != "" {
		s += ": " + e.Description
	}
	return s
}

func (e *IdPError) Is(target error) bool { return target == ErrIdP }

// NoRolesError is a user whose IdP groups map to no role while no default
// role is set; it matches ErrNoRoles.
type NoRolesError struct {
	User      string
	IdPGroups []string
}

func (e *NoRolesError) Error() string {
	groups := "the IdP sent no groups"
	if len(e.IdPGroups) > 0 {
		groups = "no role is mapped from the IdP groups " + strings.Join(e.IdPGroups, ", ")
	}
	return fmt.Sprintf("signed in as %s, but no role is granted: %s, and no default role is set", e.User, groups)
}

func (e *NoRolesError) Is(target error) bool { return target == ErrNoRoles }

// clip shortens a provider's text so an error page stays an error page.
func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
