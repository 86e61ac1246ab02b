package activities

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/plan"

	"go.temporal.io/sdk/temporal"

	"github.com/opsrunbook/runbook/runbooks"
)

func appErr(t *testing.T, err error) *temporal.ApplicationError {
	t.Helper()
	var app *temporal.ApplicationError
	if !errors.As(err, &app) {
		t.Fatalf("want an ApplicationError, got %v", err)
	}
	return app
}

func TestShellCommandAndScript(t *testing.T) {
	e := &Env{}
	out, err := handlerOf(e, ShellSpec)(context.Background(), plan.ActionInput{StepID: "s", Inputs: map[string]any{"command": []any{"printf", "%s|%s", "a b", "$HOME"}}})
	if err != nil || out.Outputs["stdout"] != "a b|$HOME" || out.Outputs["exitCode"] != int64(0) {
		t.Fatalf("command: %v, %v", out, err)
	}
	out, err = handlerOf(e, ShellSpec)(context.Background(), plan.ActionInput{StepID: "s", Inputs: map[string]any{
		"script": `echo "$GREETING from $RUNBOOK_STEP"; cat; echo oops >&2`, "env": map[string]any{"GREETING": "hi; rm -rf /"}, "stdin": "piped\n"}})
	if err != nil || out.Outputs["stdout"] != "hi; rm -rf / from s\npiped\n" || out.Outputs["stderr"] != "oops\n" {
		t.Fatalf("script: %v, %v", out, err)
	}
}

func TestShellExitCodes(t *testing.T) {
	e := &Env{}
	_, err := handlerOf(e, ShellSpec)(context.Background(), plan.ActionInput{Inputs: map[string]any{"script": "echo partial; echo 'disk full' >&2; exit 3"}})
	app := appErr(t, err)
	if app.Type() != plan.ErrShellExit || app.NonRetryable() || app.Message() != "exit code 3: disk full\nlast 2 lines of output:\npartial\ndisk full" && app.Message() != "exit code 3: disk full\nlast 2 lines of output:\ndisk full\npartial" {
		t.Errorf("error = %v (type %s)", app, app.Type())
	}
	var details map[string]any
	if err := app.Details(&details); err != nil || details["stdout"] != "partial\n" {
		t.Errorf("details = %v, %v", details, err)
	}
	out, err := handlerOf(e, ShellSpec)(context.Background(), plan.ActionInput{Inputs: map[string]any{
		"script": `echo '{"changed": 1}'; exit 2`, "okExitCodes": []any{0, 2}, "parseJson": true}})
	if err != nil || out.Outputs["exitCode"] != int64(2) || out.Outputs["json"].(map[string]any)["changed"] != float64(1) {
		t.Errorf("allowed exit with JSON: %v, %v", out, err)
	}
	_, err = handlerOf(e, ShellSpec)(context.Background(), plan.ActionInput{Inputs: map[string]any{"script": "echo nope", "parseJson": true}})
	if app := appErr(t, err); app.Type() != plan.ErrBadOutput || !app.NonRetryable() {
		t.Errorf("non-JSON stdout: %v", app)
	}
}

func TestShellBadInputIsPermanent(t *testing.T) {
	e := &Env{}
	for name, in := range map[string]map[string]any{
		"missing program": {"command": []any{"/no/such/program"}},
		"both":            {"command": []any{"ls"}, "script": "ls", "env": map[string]any{"A": 1}},
		"unknown input":   {"command": []any{"ls"}, "colour": "red"},
	} {
		_, err := handlerOf(e, ShellSpec)(context.Background(), plan.ActionInput{Inputs: in})
		if app := appErr(t, err); !app.NonRetryable() {
			t.Errorf("%s: %v is retryable", name, app)
		}
	}
}

func TestShellKeepsTheTailOfLargeOutput(t *testing.T) {
	out, err := handlerOf(&Env{}, ShellSpec)(context.Background(), plan.ActionInput{Inputs: map[string]any{"script": "head -c 200000 /dev/zero | tr '\\0' a; echo END"}})
	if err != nil {
		t.Fatal(err)
	}
	s := out.Outputs["stdout"].(string)
	if len(s) != MaxOutput || !strings.HasSuffix(s, "aEND\n") {
		t.Errorf("stdout: %d bytes, ends %q", len(s), s[len(s)-5:])
	}
}

func TestShellCancellationKillsTheProcessGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := handlerOf(&Env{}, ShellSpec)(ctx, plan.ActionInput{Inputs: map[string]any{"script": "sleep 300 & echo $! > " + pidFile + "; wait"}})
		done <- err
	}()
	var pid int
	for range 100 {
		if b, err := os.ReadFile(pidFile); err == nil && len(b) > 1 {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if pid == 0 {
		t.Fatal("the script did not start its child")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
	for range 50 {
		if syscall.Kill(pid, 0) != nil {
			return // gone
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("child %d survived the cancellation", pid)
}

func TestSecretsAreResolvedInsideAndRedacted(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "TOKEN"), []byte("s3cr3t-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := &Env{Secrets: DirSecrets(dir)}
	p, _, err := runbooks.Build("s.yaml", []byte(`apiVersion: runbook/v1
kind: Runbook
metadata: {name: s}
spec:
  secrets: [TOKEN]
  params: [{name: user, type: string, default: ann}]
  steps:
    - {id: a, action: shell, with: {script: 'echo "token=$T"; echo "$T" >&2; exit 1', env: {T: "${{ params.user + ':' + secrets.TOKEN }}"}}}
`), runbooks.Options{Actions: Catalog()})
	if err != nil {
		t.Fatal(err)
	}
	in := plan.ActionInput{StepID: "a", Inputs: map[string]any{"script": p.Step("a").With["script"].Lit},
		Deferred: map[string]*plan.Value{"env": p.Step("a").With["env"]},
		Vars:     plan.EncodeVars(map[string]any{"params": map[string]any{"user": "ann"}})}
	_, err = e.Handlers()[ShellSpec.Name](context.Background(), in)
	app := appErr(t, err)
	var details map[string]any
	_ = app.Details(&details)
	for _, s := range []string{app.Error(), details["stdout"].(string), details["stderr"].(string)} {
		if strings.Contains(s, "s3cr3t") {
			t.Errorf("secret leaked: %q", s)
		}
	}
	if details["stdout"] != "token=ann:***\n" {
		t.Errorf("stdout = %q: the secret must reach the process, and be redacted from outputs", details["stdout"])
	}
	_, err = (&Env{Secrets: DirSecrets(t.TempDir())}).Handlers()[ShellSpec.Name](context.Background(), in)
	if app := appErr(t, err); app.Type() != plan.ErrSecret || !app.NonRetryable() {
		t.Errorf("missing secret: %v", app)
	}
}

// Env names that are not identifiers are code to some shell (bash imports
// BASH_FUNC_name%% as a function) or, in ssh's command text, an injection.
func TestEnvNamesMustBeIdentifiers(t *testing.T) {
	for _, name := range []string{"BASH_FUNC_echo%%", "X=1; id; Y", "1X", ""} {
		err := checkEnvNames("shell", map[string]string{"OK": "1", name: "() { id; }"})
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("env name %q is not a shell identifier", name)) {
			t.Errorf("%q: %v", name, err)
		}
	}
	if err := checkEnvNames("ssh", map[string]string{"A_1": "x", "_b": "y"}); err != nil {
		t.Error(err)
	}
}
