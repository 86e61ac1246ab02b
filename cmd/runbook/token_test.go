package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/server"
	"github.com/opsrunbook/runbook/store"
)

var secretLine = regexp.MustCompile(`^rbk_[a-z2-7]{32}\n$`)

// On the database (--db, how the first admin token is made): create with
// a TTL, list, revoke by id and by prefix; bad values change nothing.
func TestTokenCommandsOnTheDatabase(t *testing.T) {
	t.Setenv("RUNBOOK_TOKEN", "") // the database, whatever the caller's shell holds
	dsn := filepath.Join(t.TempDir(), "runbook.db")
	code, out, errOut := runCLI(t, "token", "create", "--db", dsn, "--user", "ann", "--roles", "operator,viewer", "--groups", "change-board", "--ttl", "720h")
	if code != 0 || !secretLine.MatchString(out) || errOut != "" {
		t.Fatalf("create: exit %d\n%s%s", code, out, errOut)
	}
	secret := strings.TrimSpace(out)
	if code, _, errOut := runCLI(t, "token", "create", "--db", dsn, "--user", "bob"); code != 0 {
		t.Fatalf("create without a TTL: exit %d %s", code, errOut)
	}

	st, err := store.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Authenticate(secret); err != nil {
		t.Fatal(err)
	}
	ts, _ := st.Tokens("ann")
	if ts[0].ExpiresAt == nil || time.Until(*ts[0].ExpiresAt) < 719*time.Hour {
		t.Errorf("ann's token expires %v", ts[0].ExpiresAt)
	}
	st.Close()

	code, out, _ = runCLI(t, "token", "list", "--db", dsn)
	row := regexp.MustCompile(`(?m)^1\s+(rbk_\w{8})\s+ann\s+operator,viewer\s+change-board\s+active\s+(\S+Z)\s+(\S+Z)\s+(\S+Z)\s+-$`)
	m := row.FindStringSubmatch(out)
	if code != 0 || !strings.HasPrefix(out, "ID  PREFIX        USER  ROLES            GROUPS        STATE   CREATED               LAST USED             EXPIRES               REVOKED\n") || m == nil ||
		!strings.HasPrefix(secret, m[1]) || !regexp.MustCompile(`(?m)^2\s+rbk_\w{8}\s+bob\s+viewer\s+-\s+active\s+\S+Z\s+-\s+-\s+-$`).MatchString(out) {
		t.Fatalf("list: exit %d\n%s", code, out)
	}
	if code, out, _ := runCLI(t, "token", "list", "--db", dsn, "--user", "bob", "--json"); code != 0 || !strings.Contains(out, `"user": "bob"`) || strings.Contains(out, "ann") {
		t.Errorf("list --user bob --json: exit %d\n%s", code, out)
	}

	if code, out, _ := runCLI(t, "token", "revoke", m[1], "--db", dsn); code != 0 || out != "token 1 ("+m[1]+", ann) revoked\n" {
		t.Errorf("revoke by prefix: exit %d %q", code, out)
	}
	if code, _, errOut := runCLI(t, "token", "revoke", "--db", dsn, "1"); code != 1 || !strings.HasPrefix(errOut, "runbook token: token 1 already revoked (revoked at ") {
		t.Errorf("revoke twice: exit %d %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, "token", "revoke", "--db", dsn, "7"); code != 1 || errOut != "runbook token: no token 7\n" {
		t.Errorf("revoke unknown: exit %d %q", code, errOut)
	}
	st, _ = store.Open(dsn)
	defer st.Close()
	if _, err := st.Authenticate(secret); !errors.Is(err, store.ErrTokenRevoked) {
		t.Errorf("after revoke: %v", err)
	}

	code, _, errOut = runCLI(t, "token", "create", "--db", dsn, "--user", "", "--roles", "root", "--ttl", "-1h")
	want := `runbook token: invalid token
  user: must not be empty
  roles[0]: unknown role "root" (roles: viewer, operator, approver, author, admin)
  ttl: "-1h": must be positive, e.g. 720h or 30d (leave it out for a token that does not expire)
`
	if code != 1 || errOut != want {
		t.Errorf("bad values: exit %d\n%s\nwant\n%s", code, errOut, want)
	}
	if all, _ := st.Tokens(""); len(all) != 2 {
		t.Errorf("%d tokens after a bad create", len(all))
	}
	log, _ := st.AuditLog("token.", 10)
	if len(log) != 3 || log[0].Action != "token.revoke" || !strings.HasPrefix(log[0].Actor, "cli") {
		t.Errorf("audit: %+v", log)
	}
}

// Arguments the command does not take exit 2 with the usage, touching
// nothing.
func TestTokenUsageErrors(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "runbook.db")
	for _, tt := range []struct {
		args []string
		says string
	}{
		{[]string{"token"}, "runbook token: name the subcommand first: create, list or revoke\n"},
		{[]string{"token", "rotate"}, `runbook token: unknown subcommand "rotate"` + "\n"},
		{[]string{"token", "list", "--bogus"}, "flag provided but not defined: -bogus\n"},
		{[]string{"token", "create", "--user", "ann", "admin"}, "runbook token: token create takes 0 arguments, got 1: admin\n"},
		{[]string{"token", "revoke"}, "runbook token: token revoke takes 1 arguments, got 0: \n"},
		{[]string{"token", "revoke", "1", "2"}, "runbook token: token revoke takes 1 arguments, got 2: 1 2\n"},
		{[]string{"token", "list", "--token", "rbk_x"}, "runbook token: --db works on the database, --addr and --token against the API: give one or the other\n"},
	} {
		code, out, errOut := runCLI(t, append(tt.args, "--db", dsn)...)
		if code != 2 || out != "" || !strings.HasPrefix(errOut, tt.says) || !strings.HasSuffix(errOut, tokenUsage+"\n") {
			t.Errorf("%v: exit %d\n%s%s", tt.args, code, out, errOut)
		}
	}
	if code, _, errOut := runCLI(t, "token"); code != 2 || errOut != "runbook token: name a subcommand: create, list or revoke\n"+tokenUsage+"\n" {
		t.Errorf("token alone: exit %d\n%s", code, errOut)
	}
	if matches, _ := filepath.Glob(dsn + "*"); len(matches) != 0 {
		t.Errorf("a usage error opened the database: %v", matches)
	}
}

// Against the API (--addr/--token, or RUNBOOK_ADDR/RUNBOOK_TOKEN): the
// same commands as an admin; a token with a TTL works until it passes and
// a revoked one stops at once.
func TestTokenCommandsAgainstTheAPI(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "api.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := httptest.NewServer((&server.API{Store: st}).Handler())
	defer srv.Close()
	admin, _, _ := st.CreateToken("root", []string{"admin"}, nil)
	operator, _, _ := st.CreateToken("olga", []string{"operator"}, nil)
	t.Setenv("RUNBOOK_ADDR", srv.URL)
	t.Setenv("RUNBOOK_TOKEN", admin)
	notThis := filepath.Join(t.TempDir(), "not-this.db")
	t.Setenv("RUNBOOK_DB", notThis)
	use := func(secret string) int {
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/runbooks", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	code, out, errOut := runCLI(t, "token", "create", "--user", "ann", "--roles", "viewer", "--ttl", "2s")
	if code != 0 || !secretLine.MatchString(out) || errOut != "" {
		t.Fatalf("create: exit %d\n%s%s", code, out, errOut)
	}
	ann := strings.TrimSpace(out)
	if got := use(ann); got != 200 {
		t.Fatalf("a fresh token: %d", got)
	}
	code, out, _ = runCLI(t, "token", "list", "--user", "ann")
	if code != 0 || !regexp.MustCompile(`(?m)^3\s+`+ann[:12]+`\s+ann\s+viewer\s+-\s+active\s+\S+Z\s+\S+Z\s+\S+Z\s+-$`).MatchString(out) {
		t.Fatalf("list shows the last use: exit %d\n%s", code, out)
	}
	for deadline := time.Now().Add(10 * time.Second); use(ann) != 401; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the token still works long after its TTL")
		}
	}
	if _, out, _ := runCLI(t, "token", "list", "--user", "ann", "--json"); !strings.Contains(out, `"state": "expired"`) {
		t.Errorf("an expired token listed:\n%s", out)
	}

	_, out, _ = runCLI(t, "token", "create", "--user", "bob", "--roles", "viewer,operator", "--groups", "ops")
	bob := strings.TrimSpace(out)
	if got := use(bob); got != 200 {
		t.Fatalf("bob: %d", got)
	}
	if code, out, errOut := runCLI(t, "token", "revoke", bob[:12]); code != 0 || out != fmt.Sprintf("token 4 (%s, bob) revoked\n", bob[:12]) {
		t.Errorf("revoke: exit %d %s%s", code, out, errOut)
	}
	if got := use(bob); got != 401 {
		t.Errorf("right after revoke: %d", got)
	}
	if code, _, errOut := runCLI(t, "token", "revoke", "4"); code != 1 || !strings.HasPrefix(errOut, "runbook token: token 4 already revoked (HTTP 409)\n  revoked at ") {
		t.Errorf("revoke twice: exit %d %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, "token", "revoke", "9"); code != 1 || !strings.HasPrefix(errOut, "runbook token: no token 9 (HTTP 404)") {
		t.Errorf("revoke unknown: exit %d %s", code, errOut)
	}

	code, _, errOut = runCLI(t, "token", "create", "--user", "", "--roles", "root", "--ttl", "soon")
	want := `runbook token: invalid token request (HTTP 422)
  user: must not be empty
  roles[0]: unknown role "root" (roles: viewer, operator, approver, author, admin)
  ttl: invalid duration "soon" (want e.g. 90s, 15m, 2h, 7d, 1d12h)
`
	if code != 1 || errOut != want {
		t.Errorf("bad values: exit %d\n%s\nwant\n%s", code, errOut, want)
	}
	if code, _, errOut := runCLI(t, "token", "list", "--token", operator); code != 1 || errOut != "runbook token: this needs the admin role (HTTP 403)\n" {
		t.Errorf("as an operator: exit %d %q", code, errOut)
	}
	code, out, _ = runCLI(t, "token", "list", "--json")
	var list struct{ Tokens []store.TokenInfo }
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil || len(list.Tokens) != 4 || strings.Contains(out, bob) || strings.Contains(out, ann) {
		t.Errorf("list --json: exit %d %v\n%s", code, err, out)
	}
	if log, _ := st.AuditLog("token.", 10); len(log) != 3 || log[0].Actor != "root" {
		t.Errorf("audit: %+v", log)
	}
	if matches, _ := filepath.Glob(notThis + "*"); len(matches) != 0 {
		t.Errorf("with RUNBOOK_TOKEN set the commands opened RUNBOOK_DB: %v", matches)
	}
}
