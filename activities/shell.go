package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/opsrunbook/runbook/plan"

	"go.temporal.io/sdk/temporal"
)

// ShellSpec runs a command or a shell script on the worker.
var ShellSpec = &plan.ActionSpec{
	Name:        "shell",
	Errors:      errorTypes(plan.ErrShellExit, plan.ErrBadOutput),
	Description: "Run a command (argv list) or a script (run by /bin/sh -eu) on the worker. Template values reach the process as arguments or environment, never spliced into shell text.",
	Heartbeats:  true,
	Inputs: []plan.Field{
		{Name: "command", Type: plan.ListOf(plan.StringType), Description: "Program and arguments, run without a shell.", Role: plan.RoleCommand},
		{Name: "script", Type: plan.StringType, Description: "Script text run by /bin/sh -eu; pass values through env.", Role: plan.RoleCode},
		{Name: "env", Type: plan.MapOf(plan.StringType), Description: "Environment variables. The process gets these, RUNBOOK_RUN_ID, RUNBOOK_STEP and, of the worker's own environment, only PATH, HOME, TMPDIR, TZ, LANG, LANGUAGE, LC_* and the variables RUNBOOK_PASS_ENV lists. Names must be shell identifiers.", Role: plan.RoleEnv},
		{Name: "dir", Type: plan.StringType, Description: "Working directory.", Role: plan.RolePath},
		{Name: "stdin", Type: plan.StringType, Description: "Text written to standard input."},
		{Name: "okExitCodes", Type: plan.ListOf(plan.IntType), Default: []any{int64(0)}, Description: "Exit codes that count as success."},
		{Name: "parseJson", Type: plan.BoolType, Default: false, Description: "Parse stdout as JSON into the json output."},
	},
	Outputs: []plan.Field{
		{Name: "exitCode", Type: plan.IntType, Description: "The process's exit code."},
		{Name: "stdout", Type: plan.StringType, Description: "The last 64 KiB of standard output."},
		{Name: "stderr", Type: plan.StringType, Description: "The last 64 KiB of standard error."},
		{Name: "json", Type: plan.AnyType, Description: "stdout parsed as JSON, when parseJson is set."},
	},
	ExactlyOne: [][]string{{"command", "script"}},
}

var _ = register(ShellSpec, runShell)

// killGrace is how long a cancelled process has between SIGTERM and SIGKILL.
const killGrace = 5 * time.Second

type shellInput struct {
	Command     []string          `json:"command"`
	Script      string            `json:"script"`
	Env         map[string]string `json:"env"`
	Dir         string            `json:"dir"`
	Stdin       string            `json:"stdin"`
	OKExitCodes []int             `json:"okExitCodes"`
	ParseJSON   bool              `json:"parseJson"`
}

// runShell runs the shell action. The process gets its own process group, so
// cancelling the activity stops it and everything it started.
func runShell(ctx context.Context, c call, si shellInput) (map[string]any, error) {
	argv := si.Command
	if si.Script != "" {
		argv = []string{"/bin/sh", "-eu", "-c", si.Script, "runbook-" + c.StepID}
	}
	if len(argv) == 0 || argv[0] == "" {
		return nil, badInput("shell: empty command")
	}
	if err := checkEnvNames("shell", si.Env); err != nil {
		return nil, err
	}
	env := map[string]string{"RUNBOOK_RUN_ID": c.RunID, "RUNBOOK_STEP": c.StepID}
	maps.Copy(env, si.Env)
	cmd := command(env, argv[0], argv[1:]...)
	cmd.Dir = si.Dir
	stdout, stderr := newTail(MaxOutput), newTail(MaxOutput)
	lines := c.stepLog(ctx)
	defer lines.Close()
	var done func()
	cmd.Stdout, cmd.Stderr, done = output(ctx, lines, stdout, stderr)
	if si.Stdin != "" {
		cmd.Stdin = strings.NewReader(si.Stdin)
	}
	code, err := runProcess(ctx, cmd)
	done()
	if err != nil {
		return nil, err
	}
	return commandOutputs(code, stdout.String(), stderr.String(), lines.Tail(), si.OKExitCodes, si.ParseJSON)
}

// runProcess starts cmd in its own process group and waits for it; on
// cancellation it terminates the group, then kills it.
func runProcess(ctx context.Context, cmd *exec.Cmd) (int, error) {
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) {
			return 0, badInput("shell: %v", err)
		}
		return 0, fmt.Errorf("shell: start: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			return 0, fmt.Errorf("shell: %w", err)
		}
		return cmd.ProcessState.ExitCode(), nil
	case <-ctx.Done():
		pgid := -cmd.Process.Pid
		_ = syscall.Kill(pgid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(killGrace):
			_ = syscall.Kill(pgid, syscall.SIGKILL)
			<-done
		}
		return 0, ctx.Err()
	}
}

// commandOutputs builds shell-style outputs and fails on an exit code that
// is not allowed: the error says the last line of stderr and, when the
// process printed more, its last lines (tail: at most steplog.TailLines
// and steplog.TailBytes, so the error stays small in history). With
// parseJson, stdout is parsed whenever the exit code is allowed, zero or
// not.
func commandOutputs(code int, stdout, stderr string, tail []string, ok []int, parseJSON bool) (map[string]any, error) {
	out := map[string]any{"exitCode": int64(code), "stdout": stdout, "stderr": stderr, "json": nil}
	if len(ok) == 0 {
		ok = []int{0}
	}
	if !slices.Contains(ok, code) {
		msg := fmt.Sprintf("exit code %d", code)
		last := lastLine(stderr)
		if last != "" {
			msg += ": " + last
		}
		if len(tail) > 1 || len(tail) == 1 && tail[0] != last {
			msg += fmt.Sprintf("\nlast %d lines of output:\n%s", len(tail), strings.Join(tail, "\n"))
		}
		return nil, temporal.NewApplicationErrorWithOptions(msg, plan.ErrShellExit, temporal.ApplicationErrorOptions{Details: []any{out}})
	}
	if parseJSON {
		var v any
		if err := json.Unmarshal([]byte(stdout), &v); err != nil {
			return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("stdout is not JSON: %v", err), plan.ErrBadOutput, nil)
		}
		out["json"] = v
	}
	return out, nil
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

func splitLines(s string) []string { return strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") }
