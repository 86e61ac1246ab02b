package sso

import (
	"fmt"
	"slices"
	"strings"

	"github.com/opsrunbook/runbook/store"
)

// identity maps a verified sign-in's claims to who runbook sees: the user
// from UserClaim, approver groups and roles from the IdP groups in
// GroupsClaim through Groups and Roles, plus DefaultRoles. IdP groups
// that are not mapped give nothing: a group anyone can create in the IdP
// must not become an approver group by its name.
func (p *Provider) identity(claims map[string]any) (*store.Identity, error) {
	user, err := p.user(claims)
	if err != nil {
		return nil, err
	}
	idpGroups, err := stringList(claims, p.cfg.GroupsClaim)
	if err != nil {
		return nil, err
	}
	var groups, roles []string
	roles = append(roles, p.cfg.DefaultRoles...)
	for _, g := range idpGroups {
		groups = append(groups, p.cfg.Groups[g]...)
		roles = append(roles, p.cfg.Roles[g]...)
	}
	slices.Sort(groups)
	groups = slices.Compact(groups)
	var held []string
	for _, r := range store.Roles {
		if slices.Contains(roles, r) {
			held = append(held, r)
		}
	}
	if len(held) == 0 {
		return nil, &NoRolesError{User: user, IdPGroups: idpGroups}
	}
	if groups == nil {
		groups = []string{}
	}
	return &store.Identity{User: user, Roles: held, Groups: groups}, nil
}

// user is the UserClaim's value. An email the provider says it has not
// verified names nobody: anyone could have typed it.
func (p *Provider) user(claims map[string]any) (string, error) {
	name := p.cfg.UserClaim
	v, ok := claims[name]
	if !ok || v == nil {
		return "", fmt.Errorf("%w: the claim %q is missing (is its scope requested? %s sets which claim names the user)", ErrClaims, name, envUserClaim)
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%w: the claim %q is not a string", ErrClaims, name)
	}
	s = strings.TrimSpace(s)
	switch most := store.Size(store.Token{}, "User"); {
	case s == "":
		return "", fmt.Errorf("%w: the claim %q is empty", ErrClaims, name)
	case store.Length(s) > most:
		return "", fmt.Errorf("%w: the claim %q is longer than %d characters", ErrClaims, name, most)
	case strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "", fmt.Errorf("%w: the claim %q has a control character", ErrClaims, name)
	}
	if pre, reserved := store.ReservedUser(s); reserved {
		return "", fmt.Errorf("%w: the claim %q is %q, which starts with %s, kept for the engine's own actors", ErrClaims, name, s, pre)
	}
	if name == "email" {
		if verified, ok := claims["email_verified"]; ok && (verified == false || verified == "false") {
			return "", fmt.Errorf("%w: the identity provider has not verified the email %s", ErrClaims, s)
		}
	}
	return s, nil
}

// stringList is a claim that is a list of strings, or one string; missing
// is none.
func stringList(claims map[string]any, name string) ([]string, error) {
	switch v := claims[name].(type) {
	case nil:
		return nil, nil
	case string:
		return []string{v}, nil
	case []any:
		out := make([]string, 0, len(v))
		for _, item := range v {
			s, ok := item.(string)
			if !ok {
				return nil, fmt.Errorf("%w: the claim %q is not a list of strings", ErrClaims, name)
			}
			out = append(out, s)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("%w: the claim %q is not a list of strings", ErrClaims, name)
	}
}
