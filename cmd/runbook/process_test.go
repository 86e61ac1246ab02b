package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets a test start this binary as the runbook command in a
// child process (RUNBOOK_TEST_MAIN=1), so kill -9 hits a real process.
func TestMain(m *testing.M) {
	if os.Getenv("RUNBOOK_TEST_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// proc is a runbook command running in a child process.
type proc struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

func startProc(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	return startProcIn(t, "", env, args...)
}

// startProcIn starts the command in directory dir.
func startProcIn(t *testing.T, dir string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: args[0], out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], args...)
	p.cmd.Dir = dir
	p.cmd.Env = append(append(os.Environ(), "RUNBOOK_TEST_MAIN=1"), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(p.kill)
	return p
}

// kill is kill -9.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// await waits for the output to match re and returns the submatches.
func (p *proc) await(re string) []string {
	p.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if m := rx.FindStringSubmatch(p.out.String()); m != nil {
			return m
		}
		select {
		case <-p.done:
			p.t.Fatalf("runbook %s exited before printing %q:\n%s", p.name, re, p.out)
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("runbook %s did not print %q:\n%s", p.name, re, p.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// devProc is `runbook dev` in a child process, with its addresses and tokens.
type devProc struct {
	*proc
	api, temporal string
	tokens        map[string]string
}

func startDevProc(t *testing.T, dir string, env []string, extra ...string) *devProc {
	t.Helper()
	args := append([]string{"dev", "--dir", dir, "--listen", "127.0.0.1:0", "--temporal-port", "0", "--examples", ""}, extra...)
	d := &devProc{proc: startProc(t, env, args...), tokens: map[string]string{}}
	d.await("Try it:")
	d.api = d.await(`API\s+(http://[0-9.:]+)/api/v1`)[1]
	d.temporal = d.await(`Temporal\s+([0-9.:]+) `)[1]
	for _, m := range regexp.MustCompile(`(RUNBOOK_\w+_TOKEN)=(\S+)`).FindAllStringSubmatch(d.out.String(), -1) {
		d.tokens[m[1]] = m[2]
	}
	return d
}

// call sends one API request and decodes the JSON answer into out.
func call(t *testing.T, base, token, method, path string, body any, out any, headers ...string) int {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, base+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode
}

type runAnswer struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Error  string `json:"error"`
	Steps  []struct {
		ID       string `json:"id"`
		Status   string `json:"status"`
		Attempts int    `json:"attempts"`
	} `json:"steps"`
}

func (r runAnswer) step(id string) string {
	for _, s := range r.Steps {
		if s.ID == id {
			return s.Status
		}
	}
	return "absent"
}

// awaitRun polls a run until cond holds.
func awaitRun(t *testing.T, base, token, id string, timeout time.Duration, cond func(runAnswer) bool) runAnswer {
	t.Helper()
	var r runAnswer
	for deadline := time.Now().Add(timeout); ; time.Sleep(200 * time.Millisecond) {
		r = runAnswer{}
		call(t, base, token, "GET", "/api/v1/runs/"+id, nil, &r)
		if cond(r) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s: condition not met in %s: %+v", id, timeout, r)
		}
	}
}

// marks counts the lines the runbook appended to dir/name: how often a
// step's side effect happened.
func marks(t *testing.T, dir, name string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

func awaitFile(t *testing.T, path string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear", path)
		}
	}
}

func mustCall(t *testing.T, want int, base, token, method, path string, body, out any, headers ...string) {
	t.Helper()
	var raw json.RawMessage
	if out == nil {
		out = &raw
	}
	if got := call(t, base, token, method, path, body, out, headers...); got != want {
		t.Fatalf("%s %s: %d, want %d: %s", method, path, got, want, raw)
	}
}
