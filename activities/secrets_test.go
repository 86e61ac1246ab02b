package activities

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/opsrunbook/runbook/plan"

	"go.temporal.io/sdk/temporal"

	"github.com/opsrunbook/runbook/runbooks"
)

// workerEnv gives the test process what a worker's environment holds:
// secrets, Temporal and database settings, a webhook key and libpq
// variables, and returns the secret values.
func workerEnv(t *testing.T) []string {
	t.Setenv("RUNBOOK_SECRET_API_KEY", "api-key-"+t.Name())
	t.Setenv("RUNBOOK_SECRET_WEBHOOK_KEY", "hook-key-0123456789")
	t.Setenv("RUNBOOK_DB", "postgres://runbook:db-password-42@db/runbook")
	t.Setenv("RUNBOOK_TEMPORAL_ADDRESS", "temporal:7233")
	t.Setenv("PGPASSWORD", "worker-pg-password")
	t.Setenv("LC_TIME", "C")
	t.Setenv("HTTPS_PROXY", "http://proxy:3128")
	t.Setenv(PassEnvVar, "HTTPS_PROXY, RUNBOOK_SECRET_API_KEY,RUNBOOK_DB")
	return []string{"api-key-" + t.Name(), "hook-key-0123456789", "db-password-42", "worker-pg-password"}
}

// envNames parses env(1) output into variable names.
func envNames(t *testing.T, out string) []string {
	t.Helper()
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, _, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("env printed %q", line)
		}
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// The attack: a step that declares no secret dumps its environment. It
// gets the allowlisted variables, its own env and the run's ids: nothing
// of the worker's.
func TestShellStepGetsOnlyTheAllowlistedEnvironment(t *testing.T) {
	leaks := workerEnv(t)
	// No secret source, so no redaction: what the step prints is what it got.
	run := (&Env{}).Handlers()[ShellSpec.Name]
	out, err := run(context.Background(), plan.ActionInput{RunID: "r1", StepID: "dump", Inputs: map[string]any{
		"command": []any{"env"}, "env": map[string]any{"GREETING": "hi"}}})
	if err != nil {
		t.Fatal(err)
	}
	stdout := out.Outputs["stdout"].(string)
	want := []string{"GREETING", "HTTPS_PROXY", "LC_TIME", "RUNBOOK_RUN_ID", "RUNBOOK_STEP"}
	for _, k := range inheritedEnv {
		if _, ok := os.LookupEnv(k); ok && k != "LC_TIME" {
			want = append(want, k)
		}
	}
	slices.Sort(want)
	if got := envNames(t, stdout); !slices.Equal(got, want) {
		t.Errorf("the process's variables are %v, want %v", got, want)
	}
	// The same through a script reading /proc, with the shell's own additions.
	out, err = run(context.Background(), plan.ActionInput{StepID: "proc", Inputs: map[string]any{"script": "tr '\\0' '\\n' < /proc/self/environ"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{stdout, out.Outputs["stdout"].(string)} {
		for _, v := range leaks {
			if strings.Contains(s, v) {
				t.Errorf("the step sees %q:\n%s", v, s)
			}
		}
		for _, k := range envNames(t, s) {
			if strings.HasPrefix(k, "RUNBOOK_") && k != "RUNBOOK_RUN_ID" && k != "RUNBOOK_STEP" || strings.HasPrefix(k, "PG") {
				t.Errorf("the step sees %s", k)
			}
		}
	}
}

// pg_dump and pg_restore get the connection of their DSN, not the worker's
// PG* or RUNBOOK_* variables.
func TestPgToolsGetOnlyTheirConnection(t *testing.T) {
	workerEnv(t)
	pg, err := newPgTool("backup.postgres", "postgres://app:pw-of-the-dsn@127.0.0.1:5432/app?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer pg.close()
	out, err := commandContext(context.Background(), pg.env, "env").Output()
	if err != nil {
		t.Fatal(err)
	}
	env := string(out)
	for _, want := range []string{"PGHOST=127.0.0.1\n", "PGUSER=app\n", "PGDATABASE=app\n", "PGSSLMODE=disable\n", "PGPASSFILE=" + pg.pass + "\n"} {
		if !strings.Contains(env, want) {
			t.Errorf("no %q in\n%s", want, env)
		}
	}
	if strings.Contains(env, "PGPASSWORD") || strings.Contains(env, "RUNBOOK_") || strings.Contains(env, "pw-of-the-dsn") {
		t.Errorf("pg tools see the worker's variables or the password:\n%s", env)
	}
}

// No file of the package starts a process other than through command or
// commandContext, nor reads the whole environment but EnvSecrets, so no
// action can hand a process the worker's environment.
func TestEveryProcessGoesThroughProcessEnv(t *testing.T) {
	allowed := map[string]string{"exec.Command": "procenv.go", "exec.CommandContext": "procenv.go", "os.Environ": "secrets.go"}
	forbidden := []string{"os.StartProcess", "syscall.Exec", "syscall.ForkExec"}
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			pkg, ok := sel.X.(*ast.Ident)
			if !ok {
				return true
			}
			call := pkg.Name + "." + sel.Sel.Name
			if file, ok := allowed[call]; ok && file != name || slices.Contains(forbidden, call) {
				t.Errorf("%s: %s; start processes with command or commandContext", fset.Position(sel.Pos()), call)
			}
			return true
		})
	}
}

func TestSecretSourcesListEveryValue(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"DB": "dir-db-value\n", "x.key": "dotted-file-value", "EMPTY": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "..data"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "DB"), filepath.Join(dir, "LINKED")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("RUNBOOK_SECRET_A", "env-a-value")
	t.Setenv("RUNBOOK_SECRET_UNSET", "")
	got, err := Secrets{EnvSecrets{}, DirSecrets(dir)}.Values()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"env-a-value", "dir-db-value", "dotted-file-value"} {
		if !slices.Contains(got, want) {
			t.Errorf("values %q lack %q", got, want)
		}
	}
	if slices.Contains(got, "") {
		t.Errorf("values %q hold an empty one", got)
	}
	if _, err := DirSecrets(filepath.Join(dir, "missing")).Values(); err == nil {
		t.Error("a missing directory lists no error")
	}
}

func TestRedactorMasksEncodings(t *testing.T) {
	secret := "p@ss w/rd+Sec?&=ret"
	b := []byte(secret)
	long := strings.Repeat("0123456789", 7)
	rd := NewRedactor([]string{secret, long, "short"})
	for _, form := range []string{secret, strings.ToUpper(secret), strings.ToLower(secret),
		base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b),
		base64.StdEncoding.EncodeToString(append(b, '\n')),
		hex.EncodeToString(b), strings.ToUpper(hex.EncodeToString(b)),
		url.QueryEscape(secret), url.PathEscape(secret),
		wrap(base64.StdEncoding.EncodeToString([]byte(long+"\n")), 76),
	} {
		if got := rd.String("before " + form + " after"); got != "before *** after" {
			t.Errorf("%q: got %q", form, got)
		}
	}
	if got := rd.String("short words stay"); got != "short words stay" {
		t.Errorf("a value under MinSecretLen was masked: %q", got)
	}
	if rd2 := NewRedactor([]string{long, secret, secret}); rd2.key != rd.key {
		t.Error("the same set of values has another key")
	}
}

func TestRedactorKeepsErrorsAndTypes(t *testing.T) {
	rd := NewRedactor([]string{"hunter2hunter2"})
	err := temporal.NewApplicationErrorWithOptions("failed with hunter2hunter2", plan.ErrShellExit, temporal.ApplicationErrorOptions{
		NonRetryable: true, Details: []any{map[string]any{"stdout": "HUNTER2HUNTER2", "exitCode": 3}}})
	app := appErr(t, rd.Error(err))
	var details map[string]any
	if err := app.Details(&details); err != nil {
		t.Fatal(err)
	}
	if app.Message() != "failed with ***" || app.Type() != plan.ErrShellExit || !app.NonRetryable() || details["stdout"] != "***" || fmt.Sprint(details["exitCode"]) != "3" {
		t.Errorf("redacted error: %v %s %v %v", app, app.Type(), app.NonRetryable(), details)
	}
	if got := rd.Error(context.Canceled); got != context.Canceled {
		t.Errorf("a cancellation became %v", got)
	}
	if got := rd.Error(errors.New("dial hunter2hunter2")); got.Error() != "dial ***" {
		t.Errorf("plain error: %v", got)
	}
	out := rd.Output(plan.ActionOutput{Outputs: map[string]any{"n": int64(1), "list": []string{"x hunter2hunter2"}, "nested": map[string]any{"hunter2hunter2": struct{ V string }{"hunter2hunter2"}}}})
	if out.Outputs["n"] != int64(1) || out.Outputs["list"].([]string)[0] != "x ***" || out.Outputs["nested"].(map[string]any)["***"].(map[string]any)["V"] != "***" {
		t.Errorf("outputs: %v", out.Outputs)
	}
}

// A step that declares no secret but reads one where the worker keeps it
// (a file of the secrets directory), and prints it encoded, gets *** for
// every form; so does a value the directory gained after the worker
// started. A failing step's error and details are redacted the same way.
func TestEverySecretOfTheSourceIsRedactedInEveryForm(t *testing.T) {
	dir := t.TempDir()
	secret := "p@ss w/rd+Sec?&=ret"
	if err := os.WriteFile(filepath.Join(dir, "DB_PASSWORD"), []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := (&Env{Secrets: Secrets{EnvSecrets{}, DirSecrets(dir)}}).Handlers()[ShellSpec.Name]
	file := filepath.Join(dir, "DB_PASSWORD")
	script := `f="$SECRET_FILE"
cat "$f"
base64 "$f"
base64 -w0 "$f"; echo
head -c -1 "$f" | basenc --base64url
head -c -1 "$f" | od -An -tx1 | tr -d ' \n'; echo
head -c -1 "$f" | xxd -p -u | tr -d '\n'; echo
tr a-z A-Z < "$f"
echo "` + url.QueryEscape(secret) + ` ` + url.PathEscape(secret) + `"
`
	out, err := run(context.Background(), plan.ActionInput{StepID: "s", Inputs: map[string]any{"script": script, "env": map[string]any{"SECRET_FILE": file}}})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Repeat("***\n", 7) + "*** ***\n"
	if got := out.Outputs["stdout"]; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}

	added := "added-later-value"
	if err := os.WriteFile(filepath.Join(dir, "LATER"), []byte(added), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = run(context.Background(), plan.ActionInput{StepID: "s", Inputs: map[string]any{"script": `echo "using $(cat "$F")" >&2; cat "$F"; exit 4`, "env": map[string]any{"F": filepath.Join(dir, "LATER")}}})
	app := appErr(t, err)
	var details map[string]any
	_ = app.Details(&details)
	// The two lines come through two pipes, in either order.
	if m := app.Message(); m != "exit code 4: using ***\nlast 2 lines of output:\nusing ***\n***" && m != "exit code 4: using ***\nlast 2 lines of output:\n***\nusing ***" || details["stdout"] != "***" || app.Type() != plan.ErrShellExit {
		t.Errorf("error %q (%s), details %v", app.Message(), app.Type(), details)
	}
}

// A secret too short to redact safely is refused to the step that reads it.
func TestShortSecretsAreRefused(t *testing.T) {
	t.Setenv("RUNBOOK_SECRET_PIN", "1234")
	p, _, err := runbooks.Build("s.yaml", []byte(`apiVersion: runbook/v1
kind: Runbook
metadata: {name: s}
spec:
  secrets: [PIN]
  steps:
    - {id: a, action: shell, with: {script: 'echo "$P"', env: {P: "${{ secrets.PIN }}"}}}
`), runbooks.Options{Actions: Catalog()})
	if err != nil {
		t.Fatal(err)
	}
	in := plan.ActionInput{StepID: "a", Inputs: map[string]any{"script": p.Step("a").With["script"].Lit}, Deferred: map[string]*plan.Value{"env": p.Step("a").With["env"]}}
	_, err = (&Env{Secrets: EnvSecrets{}}).Handlers()[ShellSpec.Name](context.Background(), in)
	app := appErr(t, err)
	if app.Type() != plan.ErrSecret || !app.NonRetryable() || app.Message() != "secret PIN: 4 bytes is too short to be redacted (the minimum is 6); use a longer value" {
		t.Errorf("error %q (%s)", app.Message(), app.Type())
	}
}

// A worker whose secrets cannot be listed runs no action.
func TestUnlistableSecretsStopActions(t *testing.T) {
	run := (&Env{Secrets: DirSecrets(filepath.Join(t.TempDir(), "missing"))}).Handlers()[ShellSpec.Name]
	_, err := run(context.Background(), plan.ActionInput{Inputs: map[string]any{"script": "echo ran"}})
	if app := appErr(t, err); app.Type() != plan.ErrSecretSource || app.NonRetryable() {
		t.Errorf("error %v (%s)", app, app.Type())
	}
}

// log and notify mask secrets before the line is logged or the text sent.
func TestLogAndNotifyTextsAreRedacted(t *testing.T) {
	t.Setenv("RUNBOOK_SECRET_TOKEN", "tok-abcdef-123")
	var got string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = string(b)
	}))
	defer hook.Close()
	hs := (&Env{Secrets: EnvSecrets{}}).Handlers()
	out, err := hs[LogSpec.Name](context.Background(), plan.ActionInput{Inputs: map[string]any{"message": "token tok-abcdef-123"}})
	if err != nil || out.Outputs["message"] != "token ***" {
		t.Errorf("log: %v, %v", out.Outputs, err)
	}
	if _, err := hs[NotifySpec.Name](context.Background(), plan.ActionInput{Inputs: map[string]any{"url": hook.URL, "format": "json",
		"text": "leaked " + base64.StdEncoding.EncodeToString([]byte("tok-abcdef-123")), "data": map[string]any{"k": "TOK-ABCDEF-123"}}}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.ToLower(got), "tok-abcdef") || !strings.Contains(got, `"text":"leaked ***"`) || !strings.Contains(got, `"k":"***"`) {
		t.Errorf("the webhook got %s", got)
	}
}

// The preflight check names the secrets a step could not read, never
// their values.
func TestCheckSecrets(t *testing.T) {
	dir := t.TempDir()
	for name, val := range map[string]string{"PG_DSN": "postgres://u:pw@db/x\n", "PIN": "1234", "EMPTY": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(val), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("RUNBOOK_SECRET_TOKEN", "token-value-1")
	for _, tc := range []struct {
		name string
		env  *Env
		want plan.SecretsCheckOutput
	}{
		{"two sources", &Env{Secrets: Secrets{EnvSecrets{}, DirSecrets(dir)}},
			plan.SecretsCheckOutput{Missing: []string{"SLACK_URL", "ZED"}, TooShort: []string{"PIN"}}},
		{"no source", &Env{}, plan.SecretsCheckOutput{Missing: []string{"EMPTY", "PG_DSN", "PIN", "SLACK_URL", "TOKEN", "ZED"}}},
	} {
		got, err := tc.env.CheckSecrets(context.Background(), plan.SecretsCheckInput{Names: []string{"ZED", "TOKEN", "PG_DSN", "SLACK_URL", "PIN", "EMPTY", "TOKEN"}})
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
	_, err := (&Env{Secrets: DirSecrets(filepath.Join(dir, "missing"))}).CheckSecrets(context.Background(), plan.SecretsCheckInput{Names: []string{"PG_DSN"}})
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != plan.ErrSecretSource {
		t.Errorf("unlistable source: %v, want %s", err, plan.ErrSecretSource)
	}
}
