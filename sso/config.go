// Package sso signs people in through an OpenID Connect provider
// (authorization code flow with PKCE) and turns the provider's claims into
// a store.Identity: the user, approver groups and roles, mapped by the
// operator's configuration. docs/sso.md says what it does and refuses.
package sso

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/opsrunbook/runbook/store"
)

// CallbackPath is where RUNBOOK_OIDC_REDIRECT_URL points by default, under
// RUNBOOK_PUBLIC_URL: the console serves Finish there.
const CallbackPath = "/auth/callback"

// maxName bounds Config.Name, shown on the sign-in button.
const maxName = 60

// Defaults for the settings left empty.
const (
	DefaultUserClaim   = "email"
	DefaultGroupsClaim = "groups"
)

// DefaultScopes are the scopes asked for when Config.Scopes is empty.
func DefaultScopes() []string { return []string{"openid", "profile", "email", "groups"} }

// Config is how runbook signs people in through an OpenID Connect provider.
type Config struct {
	Name                           string // what the sign-in button calls the provider; empty: the issuer's host
	Issuer, ClientID, ClientSecret string // ClientSecret empty: a public client (PKCE only)
	RedirectURL                    string // e.g. https://runbook.example.com/auth/callback
	Scopes                         []string
	UserClaim                      string              // the claim that names the user
	GroupsClaim                    string              // the claim that lists the user's IdP groups
	Groups                         map[string][]string // IdP group -> approver groups; unmapped IdP groups are dropped
	Roles                          map[string][]string // IdP group -> roles (store.Roles)
	DefaultRoles                   []string            // roles for anyone the IdP signs in; none by default
}

// ConfigError lists every problem of a configuration, each "NAME: message"
// where NAME is the environment variable (ConfigFromEnv) or the Config
// field (New).
type ConfigError struct{ Problems []string }

func (e *ConfigError) Error() string {
	return "invalid OpenID Connect settings: " + strings.Join(e.Problems, "; ")
}

// The environment variables ConfigFromEnv reads.
const (
	envName         = "RUNBOOK_OIDC_PROVIDER_NAME"
	envIssuer       = "RUNBOOK_OIDC_ISSUER"
	envClientID     = "RUNBOOK_OIDC_CLIENT_ID"
	envSecret       = "RUNBOOK_OIDC_CLIENT_SECRET"
	envSecretFile   = "RUNBOOK_OIDC_CLIENT_SECRET_FILE"
	envRedirectURL  = "RUNBOOK_OIDC_REDIRECT_URL"
	envScopes       = "RUNBOOK_OIDC_SCOPES"
	envUserClaim    = "RUNBOOK_OIDC_USER_CLAIM"
	envGroupsClaim  = "RUNBOOK_OIDC_GROUPS_CLAIM"
	envGroups       = "RUNBOOK_OIDC_GROUPS"
	envRoles        = "RUNBOOK_OIDC_ROLES"
	envDefaultRoles = "RUNBOOK_OIDC_DEFAULT_ROLES"
	envPublicURL    = "RUNBOOK_PUBLIC_URL"
)

// envNames names each Config field by its variable in ConfigFromEnv's errors.
var envNames = map[string]string{
	"Name": envName, "Issuer": envIssuer, "ClientID": envClientID, "ClientSecret": envSecret, "RedirectURL": envRedirectURL,
	"Scopes": envScopes, "UserClaim": envUserClaim, "GroupsClaim": envGroupsClaim, "Groups": envGroups,
	"Roles": envRoles, "DefaultRoles": envDefaultRoles,
}

// fieldNames names each Config field as itself, for New's errors.
func fieldNames(field string) string { return "Config." + field }

// ConfigFromEnv reads the RUNBOOK_OIDC_* variables. It answers nil, nil
// when none is set (single sign-on is off), and a *ConfigError naming each
// variable that is wrong, or missing when another one is set.
func ConfigFromEnv(getenv func(string) string) (*Config, error) {
	vars := []string{envName, envIssuer, envClientID, envSecret, envSecretFile, envRedirectURL, envScopes,
		envUserClaim, envGroupsClaim, envGroups, envRoles, envDefaultRoles}
	var set []string
	for _, v := range vars {
		if strings.TrimSpace(getenv(v)) != "" {
			set = append(set, v)
		}
	}
	if len(set) == 0 {
		return nil, nil
	}
	cfg := &Config{
		Name:        strings.TrimSpace(getenv(envName)),
		Issuer:      strings.TrimSpace(getenv(envIssuer)),
		ClientID:    strings.TrimSpace(getenv(envClientID)),
		RedirectURL: strings.TrimSpace(getenv(envRedirectURL)),
		Scopes:      list(getenv(envScopes)),
		UserClaim:   strings.TrimSpace(getenv(envUserClaim)),
		GroupsClaim: strings.TrimSpace(getenv(envGroupsClaim)),
	}
	names := func(f string) string { return envNames[f] }
	if cfg.RedirectURL == "" {
		via := " (or " + envPublicURL + ")"
		if base := strings.TrimRight(strings.TrimSpace(getenv(envPublicURL)), "/"); base != "" {
			cfg.RedirectURL, via = base+CallbackPath, " (from "+envPublicURL+")"
		}
		names = func(f string) string {
			if f == "RedirectURL" {
				return envRedirectURL + via
			}
			return envNames[f]
		}
	}
	var p []string
	secret, file := getenv(envSecret), strings.TrimSpace(getenv(envSecretFile))
	switch {
	case secret != "" && file != "":
		p = append(p, fmt.Sprintf("%s and %s: set one, not both", envSecret, envSecretFile))
	case file != "":
		b, err := os.ReadFile(file)
		switch {
		case err != nil:
			p = append(p, fmt.Sprintf("%s: %v", envSecretFile, err))
		case strings.TrimSpace(string(b)) == "":
			p = append(p, fmt.Sprintf("%s: %s is empty", envSecretFile, file))
		default:
			cfg.ClientSecret = strings.TrimSpace(string(b))
		}
	default:
		cfg.ClientSecret = strings.TrimSpace(secret)
	}
	var err []string
	cfg.Groups, err = mapping(envGroups, getenv(envGroups))
	p = append(p, err...)
	cfg.Roles, err = mapping(envRoles, getenv(envRoles))
	p = append(p, err...)
	cfg.DefaultRoles = list(getenv(envDefaultRoles))
	p = append(p, cfg.problems(names, " when "+set[0]+" is set")...)
	if p != nil {
		return nil, &ConfigError{Problems: p}
	}
	cfg.defaults()
	return cfg, nil
}

// list splits a comma-separated value, dropping empty items.
func list(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// mapping parses "idp-sre=sre,idp-dba=dba"; an IdP group named twice maps
// to each of its values.
func mapping(name, s string) (map[string][]string, []string) {
	var m map[string][]string
	var p []string
	for _, item := range list(s) {
		from, to, ok := strings.Cut(item, "=")
		from, to = strings.TrimSpace(from), strings.TrimSpace(to)
		if !ok || from == "" || to == "" || strings.Contains(to, "=") {
			p = append(p, fmt.Sprintf("%s: %q: each item is IDP_GROUP=NAME, e.g. idp-sre=sre", name, item))
			continue
		}
		if m == nil {
			m = map[string][]string{}
		}
		if !slices.Contains(m[from], to) {
			m[from] = append(m[from], to)
		}
	}
	return m, p
}

// problems lists what is wrong with the configuration, naming each field
// with name; why follows "must be set".
func (c *Config) problems(name func(field string) string, why string) []string {
	var p []string
	if store.Length(c.Name) > maxName || strings.ContainsFunc(c.Name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		p = append(p, fmt.Sprintf("%s: at most %d characters, without control characters", name("Name"), maxName))
	}
	if c.Issuer == "" {
		p = append(p, name("Issuer")+": must be set"+why)
	} else if msg := checkURL(c.Issuer); msg != "" {
		p = append(p, fmt.Sprintf("%s: %q: %s", name("Issuer"), c.Issuer, msg))
	}
	if c.ClientID == "" {
		p = append(p, name("ClientID")+": must be set"+why)
	}
	if c.RedirectURL == "" {
		p = append(p, name("RedirectURL")+": must be set"+why)
	} else if msg := checkURL(c.RedirectURL); msg != "" {
		p = append(p, fmt.Sprintf("%s: %q: %s", name("RedirectURL"), c.RedirectURL, msg))
	}
	for _, s := range c.Scopes {
		if strings.ContainsAny(s, " \t\r\n\"\\") {
			p = append(p, fmt.Sprintf("%s: %q: a scope has no spaces or quotes", name("Scopes"), s))
		}
	}
	for _, from := range sortedKeys(c.Groups) {
		for _, g := range c.Groups[from] {
			if strings.TrimSpace(g) == "" || strings.ContainsAny(g, ",=") {
				p = append(p, fmt.Sprintf("%s: %s=%q: a group is a non-empty name without commas", name("Groups"), from, g))
			}
		}
	}
	for _, from := range sortedKeys(c.Roles) {
		for _, r := range c.Roles[from] {
			if !slices.Contains(store.Roles, r) {
				p = append(p, fmt.Sprintf("%s: %s=%s: unknown role %q (roles: %s)", name("Roles"), from, r, r, strings.Join(store.Roles, ", ")))
			}
		}
	}
	for _, r := range c.DefaultRoles {
		if !slices.Contains(store.Roles, r) {
			p = append(p, fmt.Sprintf("%s: unknown role %q (roles: %s)", name("DefaultRoles"), r, strings.Join(store.Roles, ", ")))
		}
	}
	return p
}

// checkURL says what is wrong with an issuer or redirect URL: it must be
// absolute, and https unless its host is a loopback address, since over
// plain http anyone on the path could forge the provider's keys or read
// the code and the session cookie.
func checkURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "not an absolute http(s) URL"
	}
	if u.Fragment != "" || u.User != nil {
		return "must have no #fragment or user:password@"
	}
	if u.Scheme == "http" && !loopback(u.Hostname()) {
		return "must be https (http only for localhost, 127.0.0.1 or ::1)"
	}
	return ""
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// defaults fills the settings left empty. openid is always requested:
// without it the provider answers no ID token.
func (c *Config) defaults() {
	if c.Name == "" {
		if u, err := url.Parse(c.Issuer); err == nil {
			c.Name = u.Host
		}
	}
	if len(c.Scopes) == 0 {
		c.Scopes = DefaultScopes()
	} else if !slices.Contains(c.Scopes, "openid") {
		c.Scopes = append([]string{"openid"}, c.Scopes...)
	}
	if c.UserClaim == "" {
		c.UserClaim = DefaultUserClaim
	}
	if c.GroupsClaim == "" {
		c.GroupsClaim = DefaultGroupsClaim
	}
}

func sortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
