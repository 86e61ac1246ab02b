package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/opsrunbook/runbook/store"
)

const tokenUsage = `usage: runbook token create --user U --roles r1,r2 [--groups g1,g2] [--ttl 720h]
       runbook token list [--user U] [--json]
       runbook token revoke ID|PREFIX
On the database with --db DSN; against the API (admin role) with --addr URL
--token T. Given neither, the API when RUNBOOK_TOKEN is set, else the
database RUNBOOK_DB (default .runbook/runbook.db).`

// tokens is where token commands act: the database or the API.
type tokens interface {
	create(spec store.TokenSpec) (string, store.TokenInfo, error)
	list(user string) ([]store.TokenInfo, error)
	revoke(ref string) (store.TokenInfo, error)
}

// runToken creates, lists and revokes API tokens, on the database (to
// bootstrap the first admin) or through the admin API.
func runToken(args []string, out, errOut io.Writer) error {
	usage := func(format string, a ...any) error {
		if format != "" {
			fmt.Fprintf(errOut, "runbook token: "+format+"\n", a...)
		}
		fmt.Fprintln(errOut, tokenUsage)
		return &exitError{code: 2}
	}
	if len(args) == 0 {
		return usage("name a subcommand: create, list or revoke")
	}
	sub := args[0]
	if sub == "-h" || sub == "--help" || sub == "help" {
		fmt.Fprintln(out, tokenUsage)
		return nil
	}
	fs := flags("token "+sub, errOut)
	dsn := secretFlag(fs, "db", "RUNBOOK_DB", ".runbook/runbook.db", "database: a SQLite file or a postgres:// URL (RUNBOOK_DB)")
	connect := clientFlags(fs)
	var spec store.TokenSpec
	var roles, groups string
	var asJSON bool
	var filter string
	positionals := 0
	switch sub {
	case "create":
		fs.StringVar(&spec.User, "user", "", "the token's user")
		fs.StringVar(&roles, "roles", "viewer", "comma-separated roles: "+strings.Join(store.Roles, ", "))
		fs.StringVar(&groups, "groups", "", "comma-separated groups, for approvals")
		fs.StringVar(&spec.TTL, "ttl", "", "expire after this long, e.g. 720h or 30d (default: never)")
	case "list":
		fs.StringVar(&filter, "user", "", "only this user's tokens")
		fs.BoolVar(&asJSON, "json", false, "print JSON, as GET /api/v1/tokens answers")
	case "revoke":
		positionals = 1
	default:
		if strings.HasPrefix(sub, "-") {
			return usage("name the subcommand first: create, list or revoke")
		}
		return usage("unknown subcommand %q", sub)
	}
	pos, err := interleaved(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	if err != nil {
		return usage("") // the flag package said what is wrong
	}
	if len(pos) != positionals {
		return usage("token %s takes %d arguments, got %d: %s", sub, positionals, len(pos), strings.Join(pos, " "))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["db"] && (set["addr"] || set["token"]) {
		return usage("--db works on the database, --addr and --token against the API: give one or the other")
	}
	var where tokens
	if set["addr"] || set["token"] || (!set["db"] && os.Getenv("RUNBOOK_TOKEN") != "") {
		where = apiTokens{connect()}
	} else {
		st, err := store.Open(*dsn)
		if err != nil {
			return err
		}
		defer st.Close()
		where = dbTokens{st, localActor()}
	}

	switch sub {
	case "create":
		spec.Roles, spec.Groups = splitList(roles), splitList(groups)
		secret, _, err := where.create(spec)
		if err != nil {
			return err
		}
		// The secret alone, as before, for scripts to capture; token list
		// shows the rest (id, prefix, expiry).
		fmt.Fprintln(out, secret)
	case "list":
		ts, err := where.list(filter)
		if err != nil {
			return err
		}
		if asJSON {
			enc := json.NewEncoder(out)
			enc.SetIndent("", "  ")
			return enc.Encode(map[string]any{"tokens": ts})
		}
		printTokens(out, ts)
	case "revoke":
		t, err := where.revoke(pos[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "token %d (%s, %s) revoked\n", t.ID, t.Prefix, t.User)
	}
	return nil
}

func printTokens(out io.Writer, ts []store.TokenInfo) {
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPREFIX\tUSER\tROLES\tGROUPS\tSTATE\tCREATED\tLAST USED\tEXPIRES\tREVOKED")
	for _, t := range ts {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Prefix, t.User, strings.Join(t.Roles, ","),
			or(strings.Join(t.Groups, ","), "-"), t.State, stamp(&t.CreatedAt), stamp(t.LastUsedAt), stamp(t.ExpiresAt), stamp(t.RevokedAt))
	}
	tw.Flush()
}

func stamp(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// localActor is who the audit log names for direct database changes:
// there is no token, so the OS user the command ran as.
func localActor() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if name == "" {
		return "cli"
	}
	return "cli:" + name
}

// dbTokens works on the database.
type dbTokens struct {
	st    *store.Store
	actor string
}

func (d dbTokens) create(spec store.TokenSpec) (string, store.TokenInfo, error) {
	secret, t, err := d.st.IssueToken(d.actor, spec)
	var se *store.TokenSpecError
	if errors.As(err, &se) {
		return "", store.TokenInfo{}, fmt.Errorf("invalid token\n  %s", strings.Join(se.Problems, "\n  "))
	}
	if err != nil {
		return "", store.TokenInfo{}, err
	}
	return secret, t.Info(time.Now()), nil
}

func (d dbTokens) list(user string) ([]store.TokenInfo, error) {
	ts, err := d.st.Tokens(user)
	if err != nil {
		return nil, err
	}
	out := make([]store.TokenInfo, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.Info(time.Now()))
	}
	return out, nil
}

func (d dbTokens) revoke(ref string) (store.TokenInfo, error) {
	t, err := d.st.FindToken(ref)
	if errors.Is(err, store.ErrNotFound) {
		return store.TokenInfo{}, fmt.Errorf("no token %s", ref)
	}
	if err != nil {
		return store.TokenInfo{}, err
	}
	t, err = d.st.RevokeToken(d.actor, t.ID)
	if errors.Is(err, store.ErrAlreadyRevoked) {
		return store.TokenInfo{}, fmt.Errorf("token %d already revoked (revoked at %s)", t.ID, stamp(t.RevokedAt))
	}
	if err != nil {
		return store.TokenInfo{}, err
	}
	return t.Info(time.Now()), nil
}

// apiTokens works through the admin API.
type apiTokens struct{ c *apiClient }

func (a apiTokens) create(spec store.TokenSpec) (string, store.TokenInfo, error) {
	body := map[string]any{"user": spec.User, "roles": nonNil(spec.Roles), "groups": nonNil(spec.Groups)}
	if spec.TTL != "" {
		body["ttl"] = spec.TTL
	}
	var created struct {
		store.TokenInfo
		Secret string `json:"secret"`
	}
	if _, err := a.c.do("POST", "/api/v1/tokens", body, &created); err != nil {
		return "", store.TokenInfo{}, err
	}
	return created.Secret, created.TokenInfo, nil
}

func (a apiTokens) list(user string) ([]store.TokenInfo, error) {
	path := "/api/v1/tokens"
	if user != "" {
		path += "?user=" + url.QueryEscape(user)
	}
	var list struct {
		Tokens []store.TokenInfo `json:"tokens"`
	}
	_, err := a.c.do("GET", path, nil, &list)
	return list.Tokens, err
}

func (a apiTokens) revoke(ref string) (store.TokenInfo, error) {
	var t store.TokenInfo
	_, err := a.c.do("POST", "/api/v1/tokens/"+url.PathEscape(ref)+"/revoke", nil, &t)
	return t, err
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
