package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/opsrunbook/runbook/sso"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/web"
)

// consoleFlags are the web console's settings, shared by server and dev.
type consoleFlags struct {
	ttl       *string
	publicURL *string
	oidc      *sso.Config   // nil: single sign-on off
	provider  *sso.Provider // built by startSSO
}

func addConsoleFlags(fs *flag.FlagSet) *consoleFlags {
	return &consoleFlags{
		ttl: fs.String("session-ttl", envOr("RUNBOOK_SESSION_TTL", web.DefaultSessionTTL.String()),
			"how long a web console session lasts (RUNBOOK_SESSION_TTL)"),
		publicURL: fs.String("public-url", os.Getenv("RUNBOOK_PUBLIC_URL"),
			"the URL users reach the console at (RUNBOOK_PUBLIC_URL); https makes its cookie Secure"),
	}
}

// check refuses a TTL that is not a positive duration, a public URL that
// is not http(s)://host and RUNBOOK_OIDC_* settings that are wrong, each
// named: usage errors (exit 2).
func (f *consoleFlags) check() error {
	d, err := time.ParseDuration(*f.ttl)
	if err != nil || d <= 0 {
		return usagef("--session-ttl %q: want a positive duration such as 12h or 30m", *f.ttl)
	}
	if err := checkPublicURL(*f.publicURL); err != nil {
		return err
	}
	// --public-url stands for RUNBOOK_PUBLIC_URL, whose default it is.
	cfg, err := sso.ConfigFromEnv(func(name string) string {
		if name == "RUNBOOK_PUBLIC_URL" {
			return *f.publicURL
		}
		return os.Getenv(name)
	})
	if err != nil {
		return usagef("%v", err)
	}
	if cfg != nil {
		u, _ := url.Parse(cfg.RedirectURL) // ConfigFromEnv checked it
		if !strings.HasSuffix(u.Path, sso.CallbackPath) {
			return usagef("invalid OpenID Connect settings: RUNBOOK_OIDC_REDIRECT_URL: %q: the console finishes sign-ins at %s: the URL's path must end with it", cfg.RedirectURL, sso.CallbackPath)
		}
	}
	f.oidc = cfg
	return nil
}

// startSSO reads the OpenID Connect provider's discovery document, when
// single sign-on is configured: a provider that does not answer, or not
// as one, fails the start.
func (f *consoleFlags) startSSO(ctx context.Context) error {
	if f.oidc == nil {
		return nil
	}
	p, err := sso.New(ctx, *f.oidc)
	if err != nil {
		return fmt.Errorf("RUNBOOK_OIDC_ISSUER: %w", err)
	}
	f.provider = p
	return nil
}

// checkPublicURL refuses a public URL that is not http(s)://HOST: a
// usage error.
func checkPublicURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("--public-url %q: want http://HOST or https://HOST[:PORT][/PATH]", s)
	}
	return nil
}

func (f *consoleFlags) options(st *store.Store) web.Options {
	d, _ := time.ParseDuration(*f.ttl)
	o := web.Options{Store: st, SessionTTL: d, PublicURL: strings.TrimRight(*f.publicURL, "/")}
	if f.provider != nil {
		o.SSO = f.provider
	}
	return o
}

// signIn says how the console signs people in besides tokens, for the
// start's message.
func (f *consoleFlags) signIn() string {
	if f.provider == nil {
		return ""
	}
	return " or with " + f.provider.Name() + " (OpenID Connect at " + f.provider.Config().Issuer + ")"
}
