package worker

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// asWorker is set in the helper process that plays the worker.
const asWorker = "RUNBOOK_TEST_DUMPABLE_WORKER"

// The attack: a step's process runs as the worker's user, and the
// worker's /proc/PID/environ holds its secrets. Once the worker is
// protected, reading it is refused.
// Root (with CAP_SYS_PTRACE) reads any process's files, so as root the
// test runs the worker as nobody.
func TestStepsCannotReadTheWorkersEnvironment(t *testing.T) {
	if os.Getenv(asWorker) != "" {
		playWorker()
		return
	}
	run := func(protect string) string {
		cmd := exec.Command(os.Args[0], "-test.run=^TestStepsCannotReadTheWorkersEnvironment$")
		cmd.Env = append(os.Environ(), asWorker+"="+protect, "RUNBOOK_SECRET_X=worker-secret-value")
		if os.Geteuid() == 0 {
			dir, err := os.MkdirTemp("", "runbook-dumpable-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(dir) })
			if err := os.Chmod(dir, 0o755); err != nil { // nobody runs the copy
				t.Fatal(err)
			}
			bin := filepath.Join(dir, "worker.test")
			copyFile(t, os.Args[0], bin)
			cmd.Path, cmd.Args[0] = bin, bin
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("helper: %v\n%s", err, out)
		}
		return string(out)
	}
	if out := run("no"); !strings.Contains(out, "step read:") || !strings.Contains(out, "RUNBOOK_SECRET_X=worker-secret-value") {
		t.Fatalf("unprotected, the step does not read the worker's environ, so the test shows nothing:\n%s", out)
	}
	out := run("yes")
	if strings.Contains(out, "worker-secret-value") || !strings.Contains(out, "step refused") {
		t.Errorf("protected:\n%s", out)
	}
}

// playWorker protects itself (or not), then runs a "step" that reads its
// environ, and prints what happened.
func playWorker() {
	if os.Getenv(asWorker) == "yes" {
		if err := protectProcess(); err != nil {
			fmt.Println("protect:", err)
			os.Exit(1)
		}
	}
	environ := "/proc/" + strconv.Itoa(os.Getpid()) + "/environ"
	out, err := exec.Command("cat", environ).CombinedOutput()
	if err != nil {
		fmt.Printf("step refused: %v %s\n", err, out)
	} else {
		fmt.Printf("step read: %s\n", strings.ReplaceAll(string(out), "\x00", " "))
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
