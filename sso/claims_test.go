package sso

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/opsrunbook/runbook/store"
)

// TestIdentity is the mapping from verified claims to an identity.
func TestIdentity(t *testing.T) {
	base := Config{
		Groups:       map[string][]string{"idp-sre": {"sre", "oncall"}, "idp-dba": {"dba", "sre"}},
		Roles:        map[string][]string{"idp-sre": {"operator"}, "idp-dba": {"approver", "operator"}, "idp-admins": {"admin"}},
		DefaultRoles: []string{"viewer"},
	}
	with := func(edit func(*Config)) Config {
		c := base
		edit(&c)
		return c
	}
	for _, tc := range []struct {
		name   string
		cfg    Config
		claims map[string]any
		want   *store.Identity
		err    string
	}{
		{name: "groups and roles mapped, unmapped dropped, each once, roles in store order", cfg: base,
			claims: map[string]any{"email": "ann@example.com", "email_verified": true, "groups": []any{"idp-dba", "idp-sre", "idp-marketing"}},
			want:   &store.Identity{User: "ann@example.com", Roles: []string{"viewer", "operator", "approver"}, Groups: []string{"dba", "oncall", "sre"}}},
		{name: "a role without a group", cfg: base,
			claims: map[string]any{"email": "root@example.com", "groups": []any{"idp-admins"}},
			want:   &store.Identity{User: "root@example.com", Roles: []string{"viewer", "admin"}, Groups: []string{}}},
		{name: "groups claim as one string", cfg: base,
			claims: map[string]any{"email": "bob@example.com", "groups": "idp-sre"},
			want:   &store.Identity{User: "bob@example.com", Roles: []string{"viewer", "operator"}, Groups: []string{"oncall", "sre"}}},
		{name: "no groups claim: default roles only", cfg: base,
			claims: map[string]any{"email": "carol@example.com"},
			want:   &store.Identity{User: "carol@example.com", Roles: []string{"viewer"}, Groups: []string{}}},
		{name: "group names match exactly", cfg: base,
			claims: map[string]any{"email": "dan@example.com", "groups": []any{"IDP-SRE", "idp-sre "}},
			want:   &store.Identity{User: "dan@example.com", Roles: []string{"viewer"}, Groups: []string{}}},
		{name: "another user claim, another groups claim", cfg: with(func(c *Config) { c.UserClaim, c.GroupsClaim = "preferred_username", "roles" }),
			claims: map[string]any{"preferred_username": "erin", "email": "erin@example.com", "email_verified": false, "groups": []any{"idp-admins"}, "roles": []any{"idp-dba"}},
			want:   &store.Identity{User: "erin", Roles: []string{"viewer", "operator", "approver"}, Groups: []string{"dba", "sre"}}},
		{name: "the user claim trimmed", cfg: base, claims: map[string]any{"email": " frank@example.com "},
			want: &store.Identity{User: "frank@example.com", Roles: []string{"viewer"}, Groups: []string{}}},
		{name: "no role", cfg: with(func(c *Config) { c.DefaultRoles = nil }),
			claims: map[string]any{"email": "gina@example.com", "groups": []any{"idp-marketing"}},
			err:    "signed in as gina@example.com, but no role is granted: no role is mapped from the IdP groups idp-marketing, and no default role is set"},
		{name: "missing user claim", cfg: base, claims: map[string]any{"sub": "123"},
			err: `the identity provider's claims do not name a user: the claim "email" is missing (is its scope requested? RUNBOOK_OIDC_USER_CLAIM sets which claim names the user)`},
		{name: "null user claim", cfg: base, claims: map[string]any{"email": nil},
			err: `the identity provider's claims do not name a user: the claim "email" is missing (is its scope requested? RUNBOOK_OIDC_USER_CLAIM sets which claim names the user)`},
		{name: "user claim not a string", cfg: base, claims: map[string]any{"email": []any{"a@example.com"}},
			err: `the identity provider's claims do not name a user: the claim "email" is not a string`},
		{name: "empty user claim", cfg: base, claims: map[string]any{"email": "  "},
			err: `the identity provider's claims do not name a user: the claim "email" is empty`},
		{name: "user claim too long", cfg: base, claims: map[string]any{"email": strings.Repeat("a", 201)},
			err: `the identity provider's claims do not name a user: the claim "email" is longer than 200 characters`},
		{name: "user claim with a newline", cfg: base, claims: map[string]any{"email": "a@example.com\nadmin"},
			err: `the identity provider's claims do not name a user: the claim "email" has a control character`},
		{name: "a reserved user name", cfg: base, claims: map[string]any{"email": "system:schedule"},
			err: `the identity provider's claims do not name a user: the claim "email" is "system:schedule", which starts with system:, kept for the engine's own actors`},
		{name: "email not verified", cfg: base, claims: map[string]any{"email": "mallory@example.com", "email_verified": false},
			err: `the identity provider's claims do not name a user: the identity provider has not verified the email mallory@example.com`},
		{name: "email not verified, as a string", cfg: base, claims: map[string]any{"email": "mallory@example.com", "email_verified": "false"},
			err: `the identity provider's claims do not name a user: the identity provider has not verified the email mallory@example.com`},
		{name: "groups not strings", cfg: base, claims: map[string]any{"email": "ann@example.com", "groups": []any{"idp-sre", 7.0}},
			err: `the identity provider's claims do not name a user: the claim "groups" is not a list of strings`},
		{name: "groups an object", cfg: base, claims: map[string]any{"email": "ann@example.com", "groups": map[string]any{"idp-sre": true}},
			err: `the identity provider's claims do not name a user: the claim "groups" is not a list of strings`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.defaults()
			p := &Provider{cfg: cfg}
			got, err := p.identity(tc.claims)
			if tc.err != "" {
				if got != nil || err == nil || err.Error() != tc.err {
					t.Fatalf("identity = %+v, %v;\nwant %s", got, err, tc.err)
				}
				if want := map[bool]error{true: ErrNoRoles, false: ErrClaims}[strings.HasPrefix(tc.err, "signed in")]; !errors.Is(err, want) {
					t.Errorf("%v is not %v", err, want)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("identity = %+v, %v; want %+v", got, err, tc.want)
			}
			if !got.Has("viewer") {
				t.Errorf("%+v cannot view", got)
			}
		})
	}
}
