package activities

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opsrunbook/runbook/plan"

	"go.temporal.io/sdk/temporal"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHSpec runs a command or script on a remote host over SSH.
var SSHSpec = &plan.ActionSpec{
	Name:        "ssh",
	Errors:      errorTypes(plan.ErrShellExit, plan.ErrBadOutput, ErrHostKey, plan.ErrUnreachable),
	Description: "Run a command or a script on a host over SSH. The host key must match knownHosts: there is no blind trust. Outputs are those of shell.",
	Heartbeats:  true,
	Inputs: []plan.Field{
		{Name: "host", Type: plan.StringType, Required: true, Description: "Host name or IP address."},
		{Name: "port", Type: plan.IntType, Default: int64(22), Description: "SSH port."},
		{Name: "user", Type: plan.StringType, Required: true, Description: "Login user."},
		{Name: "privateKey", Type: plan.StringType, Required: true, Description: "PEM private key; use ${{ secrets.NAME }}."},
		{Name: "knownHosts", Type: plan.StringType, Required: true, Description: "known_hosts lines that the host's key must match."},
		{Name: "command", Type: plan.ListOf(plan.StringType), Description: "Program and arguments; each is shell-quoted for the remote shell.", Role: plan.RoleCommand},
		{Name: "script", Type: plan.StringType, Description: "Script text run by /bin/sh -eu on the host; pass values through env.", Role: plan.RoleCode},
		{Name: "env", Type: plan.MapOf(plan.StringType), Description: "Environment variables, exported before the command runs; names must be shell identifiers.", Role: plan.RoleEnv},
		{Name: "stdin", Type: plan.StringType, Description: "Text written to standard input (not with script)."},
		{Name: "okExitCodes", Type: plan.ListOf(plan.IntType), Default: []any{int64(0)}, Description: "Exit codes that count as success."},
		{Name: "parseJson", Type: plan.BoolType, Default: false, Description: "Parse stdout as JSON into the json output."},
		{Name: "connectTimeout", Type: plan.DurationType, Default: "10s", Description: "Limit for connecting and the SSH handshake."},
	},
	Outputs:    ShellSpec.Outputs,
	ExactlyOne: [][]string{{"command", "script"}},
	AtMostOne:  [][]string{{"script", "stdin"}},
}

var _ = register(SSHSpec, runSSH)

// ErrHostKey is a host key that does not match knownHosts: never retried.
const ErrHostKey = "HostKeyMismatch"

type sshInput struct {
	Host           string            `json:"host"`
	Port           int               `json:"port"`
	User           string            `json:"user"`
	PrivateKey     string            `json:"privateKey"`
	KnownHosts     string            `json:"knownHosts"`
	Command        []string          `json:"command"`
	Script         string            `json:"script"`
	Env            map[string]string `json:"env"`
	Stdin          string            `json:"stdin"`
	OKExitCodes    []int             `json:"okExitCodes"`
	ParseJSON      bool              `json:"parseJson"`
	ConnectTimeout string            `json:"connectTimeout"`
}

// runSSH runs the ssh action. The host key is checked against knownHosts;
// cancelling the activity closes the session, which ends the remote command.
func runSSH(ctx context.Context, c call, si sshInput) (map[string]any, error) {
	if err := checkEnvNames("ssh", si.Env); err != nil {
		return nil, err
	}
	connectTimeout, err := plan.ParseDuration(si.ConnectTimeout)
	if err != nil || connectTimeout <= 0 {
		return nil, badInput("ssh: connectTimeout %q: must be a positive duration", si.ConnectTimeout)
	}
	signer, err := ssh.ParsePrivateKey([]byte(si.PrivateKey))
	if err != nil {
		return nil, badInput("ssh: privateKey: %v", err)
	}
	hostKeys, err := knownHostsCallback(si.KnownHosts)
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort(si.Host, strconv.Itoa(si.Port))
	conn, err := (&net.Dialer{Timeout: connectTimeout}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, unreachable(ctx, err)
	}
	_ = conn.SetDeadline(time.Now().Add(connectTimeout))
	cc, chans, reqs, err := ssh.NewClientConn(conn, addr, &ssh.ClientConfig{
		User: si.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: hostKeys, Timeout: connectTimeout})
	if err != nil {
		conn.Close()
		var keyErr *knownhosts.KeyError
		if errors.As(err, &keyErr) {
			return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("ssh %s: the host key does not match knownHosts", addr), ErrHostKey, nil)
		}
		if strings.Contains(err.Error(), "unable to authenticate") {
			return nil, badInput("ssh %s: %v", addr, err)
		}
		return nil, unreachable(ctx, err)
	}
	_ = conn.SetDeadline(time.Time{})
	client := ssh.NewClient(cc, chans, reqs)
	defer client.Close()
	session, err := client.NewSession()
	if err != nil {
		return nil, unreachable(ctx, err)
	}
	defer session.Close()
	stdout, stderr := newTail(MaxOutput), newTail(MaxOutput)
	lines := c.stepLog(ctx)
	defer lines.Close()
	var done func()
	session.Stdout, session.Stderr, done = output(ctx, lines, stdout, stderr)
	if si.Stdin != "" {
		session.Stdin = strings.NewReader(si.Stdin)
	}
	code, err := runRemote(ctx, session, remoteCommand(si, c))
	done()
	if err != nil {
		return nil, err
	}
	return commandOutputs(code, stdout.String(), stderr.String(), lines.Tail(), si.OKExitCodes, si.ParseJSON)
}

// knownHostsCallback checks host keys against known_hosts lines.
func knownHostsCallback(lines string) (ssh.HostKeyCallback, error) {
	if strings.TrimSpace(lines) == "" {
		return nil, badInput("ssh: knownHosts is empty; give the host's key")
	}
	f, err := os.CreateTemp("", "runbook-known-hosts-*")
	if err != nil {
		return nil, fmt.Errorf("ssh: known hosts: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(lines + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("ssh: known hosts: %w", err)
	}
	f.Close()
	cb, err := knownhosts.New(f.Name())
	if err != nil {
		return nil, badInput("ssh: knownHosts: %v", err)
	}
	return cb, nil
}

// remoteCommand builds the remote shell text: env exported first, argv
// quoted, or the script run by sh -eu.
func remoteCommand(si sshInput, c call) string {
	var b strings.Builder
	env := map[string]string{"RUNBOOK_RUN_ID": c.RunID, "RUNBOOK_STEP": c.StepID}
	maps.Copy(env, si.Env)
	for _, k := range slices.Sorted(maps.Keys(env)) {
		fmt.Fprintf(&b, "export %s=%s; ", k, shellQuote(env[k]))
	}
	if si.Script != "" {
		fmt.Fprintf(&b, "exec /bin/sh -eu -c %s runbook-%s", shellQuote(si.Script), c.StepID)
		return b.String()
	}
	quoted := make([]string, len(si.Command))
	for i, a := range si.Command {
		quoted[i] = shellQuote(a)
	}
	b.WriteString(strings.Join(quoted, " "))
	return b.String()
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

// runRemote runs cmd and ends the session on cancellation.
func runRemote(ctx context.Context, session *ssh.Session, cmd string) (int, error) {
	done := make(chan error, 1)
	go func() { done <- session.Run(cmd) }()
	select {
	case err := <-done:
		var exit *ssh.ExitError
		switch {
		case err == nil:
			return 0, nil
		case errors.As(err, &exit):
			return exit.ExitStatus(), nil
		}
		return 0, temporal.NewApplicationError(fmt.Sprintf("ssh: %v", err), plan.ErrUnreachable)
	case <-ctx.Done():
		_ = session.Signal(ssh.SIGKILL)
		session.Close()
		return 0, ctx.Err()
	}
}
