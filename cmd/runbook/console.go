package main

import (
	"flag"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/web"
)

// consoleFlags are the web console's settings, shared by server and dev.
type consoleFlags struct {
	ttl       *string
	publicURL *string
}

func addConsoleFlags(fs *flag.FlagSet) *consoleFlags {
	return &consoleFlags{
		ttl: fs.String("session-ttl", envOr("RUNBOOK_SESSION_TTL", web.DefaultSessionTTL.String()),
			"how long a web console session lasts (RUNBOOK_SESSION_TTL)"),
		publicURL: fs.String("public-url", os.Getenv("RUNBOOK_PUBLIC_URL"),
			"the URL users reach the console at (RUNBOOK_PUBLIC_URL); https makes its cookie Secure"),
	}
}

// check refuses a TTL that is not a positive duration and a public URL
// that is not http(s)://host: usage errors (exit 2).
func (f *consoleFlags) check() error {
	d, err := time.ParseDuration(*f.ttl)
	if err != nil || d <= 0 {
		return usagef("--session-ttl %q: want a positive duration such as 12h or 30m", *f.ttl)
	}
	return checkPublicURL(*f.publicURL)
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
	return web.Options{Store: st, SessionTTL: d, PublicURL: strings.TrimRight(*f.publicURL, "/")}
}
