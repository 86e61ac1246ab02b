// Package s3test starts a real S3-compatible server process for tests:
// cmd/s3server, gofakes3 over HTTP on 127.0.0.1.
//
// Why gofakes3: it speaks the S3 REST protocol the AWS SDK uses (SigV4
// requests, ListObjectsV2, multipart uploads with ListMultipartUploads
// and abort, DeleteObject), it is pure Go from the module proxy, and it
// needs no Docker and no daemon to install, so every test run can start
// its own on a random port. It is run as its own process, as a server
// in production is, not linked into the test.
package s3test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Credentials the server accepts (its access key id; the secret is not
// checked).
const (
	AccessKey = "AKIARUNBOOKTEST0001"
	SecretKey = "runbook-test-secret-access-key-0001"
)

// Server is a running s3server.
type Server struct {
	Endpoint string // http://127.0.0.1:PORT
	Bucket   string
}

var built struct {
	once     sync.Once
	dir, bin string
	err      error
}

// binary builds cmd/s3server once per test binary.
func binary() (string, error) {
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "s3server-")
		if built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "s3server")
		out, err := exec.Command("go", "build", "-o", built.bin, "github.com/opsrunbook/runbook/activities/internal/s3test/cmd/s3server").CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("building s3server: %v: %s", err, out)
		}
	})
	return built.bin, built.err
}

// Remove removes the built server binary; call it from TestMain.
func Remove() {
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
}

// Start starts a server holding bucket, with extra s3server flags, and
// stops it when the test ends.
func Start(t testing.TB, bucket string, flags ...string) *Server {
	t.Helper()
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"-buckets", bucket, "-access-key", AccessKey}, flags...)...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- l
	}()
	select {
	case l := <-line:
		endpoint, ok := strings.CutPrefix(strings.TrimSpace(l), "listening ")
		if !ok {
			t.Fatalf("s3server: %q", l)
		}
		return &Server{Endpoint: endpoint, Bucket: bucket}
	case <-time.After(30 * time.Second):
		t.Fatal("s3server did not start in 30s")
	}
	return nil
}

// Inputs are the s3 inputs of a backup action for this server.
func (s *Server) Inputs() map[string]any {
	return map[string]any{"s3Endpoint": s.Endpoint, "s3PathStyle": true, "s3AccessKeyId": AccessKey, "s3SecretAccessKey": SecretKey}
}
