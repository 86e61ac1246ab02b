package activities

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/plan"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sshd is a real OpenSSH server started for a test on 127.0.0.1.
type sshd struct {
	port       int
	user       string
	clientKey  string // PEM
	knownHosts string
}

func newKey(t *testing.T) (ssh.Signer, []byte) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return signer, pem.EncodeToMemory(block)
}

func startSSHD(t *testing.T) *sshd {
	t.Helper()
	bin := "/usr/sbin/sshd"
	if _, err := os.Stat(bin); err != nil {
		t.Skip("OpenSSH server not installed (Debian package openssh-server); .ci/run installs it")
	}
	if os.Geteuid() != 0 {
		t.Skip("sshd needs root to switch users")
	}
	dir := t.TempDir()
	hostKey, hostPEM := newKey(t)
	client, clientPEM := newKey(t)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	conf := write("sshd_config", fmt.Appendf(nil, `Port %d
ListenAddress 127.0.0.1
HostKey %s
AuthorizedKeysFile %s
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
PidFile %s
LogLevel ERROR
`, port, write("host_key", hostPEM), write("authorized_keys", ssh.MarshalAuthorizedKey(client.PublicKey())), filepath.Join(dir, "sshd.pid")))
	cmd := exec.Command(bin, "-D", "-e", "-f", conf)

	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			c.Close()
			break
		}
		if i > 100 {
			t.Fatalf("sshd did not start: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	addr := knownhosts.Normalize(net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	return &sshd{port: port, user: u.Username, clientKey: string(clientPEM), knownHosts: knownhosts.Line([]string{addr}, hostKey.PublicKey())}
}

func (s *sshd) input(extra map[string]any) plan.ActionInput {
	in := map[string]any{"host": "127.0.0.1", "port": s.port, "user": s.user, "privateKey": s.clientKey, "knownHosts": s.knownHosts}
	for k, v := range extra {
		in[k] = v
	}
	return plan.ActionInput{RunID: "r1", StepID: "remote", Inputs: in}
}

func TestSSHAgainstARealServer(t *testing.T) {
	s := startSSHD(t)
	e := &Env{}
	out, err := handlerOf(e, SSHSpec)(context.Background(), s.input(map[string]any{"command": []any{"printf", "%s|%s|%s", "a b", "$HOME", "it's"}}))
	if err != nil || out.Outputs["stdout"] != "a b|$HOME|it's" {
		t.Fatalf("command: %v, %v", out, err)
	}
	out, err = handlerOf(e, SSHSpec)(context.Background(), s.input(map[string]any{
		"script": `echo "$GREETING from $RUNBOOK_STEP"; echo '{"ok": true}' >&2; exit 4`, "env": map[string]any{"GREETING": "hi; rm -rf /"},
		"okExitCodes": []any{4}}))
	if err != nil || out.Outputs["stdout"] != "hi; rm -rf / from remote\n" || out.Outputs["exitCode"] != int64(4) {
		t.Fatalf("script: %v, %v", out, err)
	}
	_, err = handlerOf(e, SSHSpec)(context.Background(), s.input(map[string]any{"command": []any{"false"}}))
	if app := appErr(t, err); app.Type() != plan.ErrShellExit {
		t.Errorf("exit 1: %v", app)
	}
}

func TestSSHRefusesAnUnknownHostKey(t *testing.T) {
	s := startSSHD(t)
	other, _ := newKey(t)
	in := s.input(map[string]any{"command": []any{"true"}})
	in.Inputs["knownHosts"] = knownhosts.Line([]string{knownhosts.Normalize(fmt.Sprintf("127.0.0.1:%d", s.port))}, other.PublicKey())
	_, err := handlerOf(&Env{}, SSHSpec)(context.Background(), in)
	if app := appErr(t, err); app.Type() != ErrHostKey || !app.NonRetryable() {
		t.Errorf("wrong host key: %v", app)
	}
	in.Inputs["knownHosts"] = ""
	_, err = handlerOf(&Env{}, SSHSpec)(context.Background(), in)
	if app := appErr(t, err); app.Type() != plan.ErrBadInput {
		t.Errorf("no known hosts: %v", app)
	}
}
