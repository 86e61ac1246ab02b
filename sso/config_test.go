package sso

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestConfigFromEnv(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	emptyFile := filepath.Join(dir, "empty")
	os.WriteFile(secretFile, []byte("from-a-file\n"), 0o600)
	os.WriteFile(emptyFile, []byte("\n"), 0o600)
	ok := map[string]string{
		"RUNBOOK_OIDC_ISSUER":       "https://idp.example.com",
		"RUNBOOK_OIDC_CLIENT_ID":    "runbook",
		"RUNBOOK_OIDC_REDIRECT_URL": "https://runbook.example.com/auth/callback",
	}
	with := func(kv ...string) map[string]string {
		env := map[string]string{}
		for k, v := range ok {
			env[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			env[kv[i]] = kv[i+1]
		}
		return env
	}
	defaults := func(c Config) *Config {
		c.Issuer, c.ClientID = "https://idp.example.com", "runbook"
		if c.RedirectURL == "" {
			c.RedirectURL = "https://runbook.example.com/auth/callback"
		}
		c.defaults()
		return &c
	}
	const roles = "(roles: viewer, operator, approver, author, admin)"
	for _, tc := range []struct {
		name string
		env  map[string]string
		want *Config
		err  []string
	}{
		{name: "not configured", env: map[string]string{}},
		{name: "RUNBOOK_PUBLIC_URL alone does not turn it on", env: map[string]string{"RUNBOOK_PUBLIC_URL": "https://runbook.example.com"}},
		{name: "the least: defaults", env: ok, want: defaults(Config{})},
		{name: "everything", env: with(
			"RUNBOOK_OIDC_PROVIDER_NAME", " Okta ",
			"RUNBOOK_OIDC_CLIENT_SECRET", " s3cret ",
			"RUNBOOK_OIDC_SCOPES", "openid, email ,groups",
			"RUNBOOK_OIDC_USER_CLAIM", "preferred_username",
			"RUNBOOK_OIDC_GROUPS_CLAIM", "roles",
			"RUNBOOK_OIDC_GROUPS", "idp-sre=sre, idp-sre=oncall,idp-dba=dba,idp-sre=sre",
			"RUNBOOK_OIDC_ROLES", "idp-sre=operator,idp-sre=approver,idp-admins=admin",
			"RUNBOOK_OIDC_DEFAULT_ROLES", "viewer"),
			want: defaults(Config{Name: "Okta", ClientSecret: "s3cret", Scopes: []string{"openid", "email", "groups"}, UserClaim: "preferred_username", GroupsClaim: "roles",
				Groups:       map[string][]string{"idp-sre": {"sre", "oncall"}, "idp-dba": {"dba"}},
				Roles:        map[string][]string{"idp-sre": {"operator", "approver"}, "idp-admins": {"admin"}},
				DefaultRoles: []string{"viewer"}})},
		{name: "openid is always asked for", env: with("RUNBOOK_OIDC_SCOPES", "email,groups"),
			want: defaults(Config{Scopes: []string{"openid", "email", "groups"}})},
		{name: "secret from a file", env: with("RUNBOOK_OIDC_CLIENT_SECRET_FILE", secretFile), want: defaults(Config{ClientSecret: "from-a-file"})},
		{name: "redirect URL from RUNBOOK_PUBLIC_URL", env: with("RUNBOOK_OIDC_REDIRECT_URL", "", "RUNBOOK_PUBLIC_URL", "https://rb.example.com/"),
			want: defaults(Config{RedirectURL: "https://rb.example.com/auth/callback"})},
		{name: "http on loopback", env: with("RUNBOOK_OIDC_ISSUER", "http://127.0.0.1:9998", "RUNBOOK_OIDC_REDIRECT_URL", "http://localhost:8080/auth/callback"),
			want: func() *Config {
				c := defaults(Config{RedirectURL: "http://localhost:8080/auth/callback"})
				c.Issuer, c.Name = "http://127.0.0.1:9998", "127.0.0.1:9998"
				return c
			}()},
		{name: "issuer alone", env: map[string]string{"RUNBOOK_OIDC_ISSUER": "https://idp.example.com"}, err: []string{
			"RUNBOOK_OIDC_CLIENT_ID: must be set when RUNBOOK_OIDC_ISSUER is set",
			"RUNBOOK_OIDC_REDIRECT_URL (or RUNBOOK_PUBLIC_URL): must be set when RUNBOOK_OIDC_ISSUER is set"}},
		{name: "roles alone", env: map[string]string{"RUNBOOK_OIDC_ROLES": "idp-sre=operator"}, err: []string{
			"RUNBOOK_OIDC_ISSUER: must be set when RUNBOOK_OIDC_ROLES is set",
			"RUNBOOK_OIDC_CLIENT_ID: must be set when RUNBOOK_OIDC_ROLES is set",
			"RUNBOOK_OIDC_REDIRECT_URL (or RUNBOOK_PUBLIC_URL): must be set when RUNBOOK_OIDC_ROLES is set"}},
		{name: "plain http issuer and redirect", env: with("RUNBOOK_OIDC_ISSUER", "http://idp.example.com", "RUNBOOK_OIDC_REDIRECT_URL", "http://runbook.example.com/auth/callback"), err: []string{
			`RUNBOOK_OIDC_ISSUER: "http://idp.example.com": must be https (http only for localhost, 127.0.0.1 or ::1)`,
			`RUNBOOK_OIDC_REDIRECT_URL: "http://runbook.example.com/auth/callback": must be https (http only for localhost, 127.0.0.1 or ::1)`}},
		{name: "plain http public URL", env: with("RUNBOOK_OIDC_REDIRECT_URL", "", "RUNBOOK_PUBLIC_URL", "http://runbook.example.com"), err: []string{
			`RUNBOOK_OIDC_REDIRECT_URL (from RUNBOOK_PUBLIC_URL): "http://runbook.example.com/auth/callback": must be https (http only for localhost, 127.0.0.1 or ::1)`}},
		{name: "not URLs", env: with("RUNBOOK_OIDC_ISSUER", "idp.example.com", "RUNBOOK_OIDC_REDIRECT_URL", "/auth/callback"), err: []string{
			`RUNBOOK_OIDC_ISSUER: "idp.example.com": not an absolute http(s) URL`,
			`RUNBOOK_OIDC_REDIRECT_URL: "/auth/callback": not an absolute http(s) URL`}},
		{name: "URL with a fragment or a password", env: with("RUNBOOK_OIDC_ISSUER", "https://u:p@idp.example.com", "RUNBOOK_OIDC_REDIRECT_URL", "https://runbook.example.com/cb#x"), err: []string{
			`RUNBOOK_OIDC_ISSUER: "https://u:p@idp.example.com": must have no #fragment or user:password@`,
			`RUNBOOK_OIDC_REDIRECT_URL: "https://runbook.example.com/cb#x": must have no #fragment or user:password@`}},
		{name: "secret twice", env: with("RUNBOOK_OIDC_CLIENT_SECRET", "a", "RUNBOOK_OIDC_CLIENT_SECRET_FILE", secretFile), err: []string{
			"RUNBOOK_OIDC_CLIENT_SECRET and RUNBOOK_OIDC_CLIENT_SECRET_FILE: set one, not both"}},
		{name: "secret file missing", env: with("RUNBOOK_OIDC_CLIENT_SECRET_FILE", filepath.Join(dir, "nope")), err: []string{
			"RUNBOOK_OIDC_CLIENT_SECRET_FILE: open " + filepath.Join(dir, "nope") + ": no such file or directory"}},
		{name: "secret file empty", env: with("RUNBOOK_OIDC_CLIENT_SECRET_FILE", emptyFile), err: []string{
			"RUNBOOK_OIDC_CLIENT_SECRET_FILE: " + emptyFile + " is empty"}},
		{name: "bad mappings", env: with("RUNBOOK_OIDC_GROUPS", "idp-sre,=sre,idp-dba=,a=b=c", "RUNBOOK_OIDC_ROLES", "idp-sre=boss,idp-dba:approver"), err: []string{
			`RUNBOOK_OIDC_GROUPS: "idp-sre": each item is IDP_GROUP=NAME, e.g. idp-sre=sre`,
			`RUNBOOK_OIDC_GROUPS: "=sre": each item is IDP_GROUP=NAME, e.g. idp-sre=sre`,
			`RUNBOOK_OIDC_GROUPS: "idp-dba=": each item is IDP_GROUP=NAME, e.g. idp-sre=sre`,
			`RUNBOOK_OIDC_GROUPS: "a=b=c": each item is IDP_GROUP=NAME, e.g. idp-sre=sre`,
			`RUNBOOK_OIDC_ROLES: "idp-dba:approver": each item is IDP_GROUP=NAME, e.g. idp-sre=sre`,
			`RUNBOOK_OIDC_ROLES: idp-sre=boss: unknown role "boss" ` + roles}},
		{name: "unknown roles", env: with("RUNBOOK_OIDC_ROLES", "idp-sre=boss", "RUNBOOK_OIDC_DEFAULT_ROLES", "viewer,root"), err: []string{
			`RUNBOOK_OIDC_ROLES: idp-sre=boss: unknown role "boss" ` + roles,
			`RUNBOOK_OIDC_DEFAULT_ROLES: unknown role "root" ` + roles}},
		{name: "a provider name too long", env: with("RUNBOOK_OIDC_PROVIDER_NAME", strings.Repeat("x", 61)), err: []string{
			`RUNBOOK_OIDC_PROVIDER_NAME: at most 60 characters, without control characters`}},
		{name: "a scope with a space", env: with("RUNBOOK_OIDC_SCOPES", "openid email"), err: []string{
			`RUNBOOK_OIDC_SCOPES: "openid email": a scope has no spaces or quotes`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ConfigFromEnv(func(k string) string { return tc.env[k] })
			if tc.err != nil {
				var ce *ConfigError
				want := "invalid OpenID Connect settings: " + strings.Join(tc.err, "; ")
				if got != nil || !errors.As(err, &ce) || err.Error() != want {
					t.Errorf("ConfigFromEnv = %+v, %v;\nwant %s", got, err, want)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ConfigFromEnv = %+v, %v;\nwant %+v", got, err, tc.want)
			}
		})
	}
}
