package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// A run that uses a secret for real (an HTTP header, a script's
// environment, stdout, stderr, a failing step's error) leaves its value
// nowhere: not in Temporal's state (history included), the records, the
// process's logs or any API answer. A step that declares no secret dumps
// its environment and prints, encoded, a secret it reads from the secrets
// directory: it sees none of the worker's variables, and every configured
// secret (used or not) is absent in every common encoding. A plain param
// is found in the same places, so the search would see the secret if it
// were there. The state directory, made 0755 with a 0644 tokens file by
// an earlier version and run under umask 0, ends 0700 with 0600 files.
func TestSecretNeverLeaves(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	// Characters that URL escaping changes, none that JSON escapes.
	secret, marker := "s3cr3t/"+randomHex(t)+"+k y", "marker-"+randomHex(t)
	unused, inDir := "unused-"+randomHex(t), "dir/"+randomHex(t)+"+tok"
	secretsDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(secretsDir, "DIR_TOKEN"), []byte(inDir+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var authorized atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer "+secret {
			authorized.Add(1)
		}
		w.Write([]byte(`{"echo": "` + r.Header.Get("Authorization") + `"}`))
	}))
	defer target.Close()

	state := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(state, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, "tokens.env"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	umask := syscall.Umask(0)
	dev := startDevProc(t, state, []string{"RUNBOOK_SECRET_API_KEY=" + secret, "RUNBOOK_SECRET_UNUSED=" + unused, "RUNBOOK_SECRETS_DIR=" + secretsDir})
	syscall.Umask(umask)
	admin := dev.tokens["RUNBOOK_ADMIN_TOKEN"]
	mustCall(t, 201, dev.api, admin, "POST", "/api/v1/runbooks", `apiVersion: runbook/v1
kind: Runbook
metadata: {name: leaky}
spec:
  params: [{name: note, type: string, required: true}]
  secrets: [API_KEY]
  steps:
    - id: call
      action: http.request
      with:
        url: `+target.URL+`
        headers: {Authorization: "Bearer ${{ secrets.API_KEY }}"}
    - id: script
      action: shell
      with:
        script: 'echo "note=$NOTE key=$KEY"; echo "key=$KEY" >&2'
        env: {KEY: "${{ secrets.API_KEY }}", NOTE: "${{ params.note }}"}
    - id: fails
      action: shell
      continueOnError: true
      with:
        script: 'echo "cannot use $KEY" >&2; exit 3'
        env: {KEY: "${{ secrets.API_KEY }}"}
    - id: dump
      action: shell
      with:
        script: |
          env
          tr '\0' '\n' < /proc/self/environ
          base64 "$DIR/DIR_TOKEN"
          head -c -1 "$DIR/DIR_TOKEN" | xxd -p | tr -d '\n'; echo
          tr a-z A-Z < "$DIR/DIR_TOKEN"
        env: {DIR: "`+secretsDir+`"}
  outputs:
    body: steps.call.outputs.body
    stdout: steps.script.outputs.stdout
    env: steps.dump.outputs.stdout
`, nil)
	var r runAnswer
	mustCall(t, 201, dev.api, admin, "POST", "/api/v1/runbooks/leaky/runs", map[string]any{"params": map[string]any{"note": marker}}, &r)
	got := awaitRun(t, dev.api, admin, r.ID, time.Minute, func(r runAnswer) bool { return r.Status != "running" })
	if got.Status != "succeeded" || authorized.Load() != 1 {
		t.Fatalf("run %s, the target saw the key %d times", got.Status, authorized.Load())
	}

	var answers bytes.Buffer
	for _, path := range []string{"/api/v1/runs/" + r.ID, "/api/v1/runs?runbook=leaky", "/api/v1/runbooks/leaky", "/api/v1/approvals"} {
		var raw []byte
		mustCall(t, 200, dev.api, admin, "GET", path, nil, (*rawJSON)(&raw))
		answers.Write(raw)
	}
	events := sse(t, dev.api+"/api/v1/runs/"+r.ID+"/events", admin)
	answers.WriteString(events)
	if !strings.Contains(answers.String(), "***") || !strings.Contains(events, "succeeded") {
		t.Errorf("the answers show no redaction or no events:\n%s", answers.String())
	}
	var run struct {
		Outputs struct{ Env string } `json:"outputs"`
	}
	mustCall(t, 200, dev.api, admin, "GET", "/api/v1/runs/"+r.ID, nil, &run)
	if !strings.Contains(run.Outputs.Env, "RUNBOOK_STEP=dump\n") || !strings.Contains(run.Outputs.Env, "\n***\n***\n***\n") {
		t.Errorf("the dump step's output:\n%s", run.Outputs.Env)
	}
	for _, line := range strings.Split(run.Outputs.Env, "\n") {
		if strings.HasPrefix(line, "RUNBOOK_") && !strings.HasPrefix(line, "RUNBOOK_RUN_ID=") && !strings.HasPrefix(line, "RUNBOOK_STEP=") {
			t.Errorf("a step that declares no secret sees the worker's %s", line)
		}
	}
	time.Sleep(3 * time.Second) // the records syncer writes the finished run
	checkStateModes(t, state, "runbook.db", "runbook.db-wal", "runbook.db-shm", "temporal.db", "tokens.env")
	dev.kill()

	places := map[string][]byte{"API answers": answers.Bytes(), "the log": []byte(dev.out.String())}
	files, _ := filepath.Glob(filepath.Join(state, "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		places[filepath.Base(f)] = b
	}
	markerSeen := map[string]bool{}
	for where, b := range places {
		for _, s := range []string{secret, unused, inDir} {
			for _, form := range encodings(s) {
				if bytes.Contains(b, []byte(form)) {
					t.Errorf("a secret is in %s, as %q", where, form)
				}
			}
		}
		markerSeen[where] = bytes.Contains(b, []byte(marker))
	}
	// The search reads what it claims to: the param is in the API's
	// answers and in Temporal's and the records' files.
	temporalFiles, recordFiles := markerSeen["temporal.db"] || markerSeen["temporal.db-wal"], markerSeen["runbook.db"] || markerSeen["runbook.db-wal"]
	if !markerSeen["API answers"] || !temporalFiles || !recordFiles {
		t.Errorf("the plain param was not found everywhere it should be: %v", markerSeen)
	}
}

// encodings are the forms of s a leak would take: as is, its case
// changed, base64, hex and URL-escaped.
func encodings(s string) []string {
	b := []byte(s)
	return []string{s, strings.ToUpper(s), strings.ToLower(s),
		base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b),
		base64.StdEncoding.EncodeToString(append(b, '\n')),
		hex.EncodeToString(b), strings.ToUpper(hex.EncodeToString(b)),
		url.QueryEscape(s), url.PathEscape(s)}
}

// checkStateModes fails unless the state directory is 0700, holds the
// files named, and every file in it (SQLite's -wal, -shm and -journal
// files included) is 0600.
func checkStateModes(t *testing.T, dir string, want ...string) {
	t.Helper()
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Errorf("state directory is %o, want 700", st.Mode().Perm())
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		seen[e.Name()] = true
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s is %o, want 600", e.Name(), info.Mode().Perm())
		}
	}
	for _, w := range want {
		if !seen[w] {
			t.Errorf("no %s in the state directory: %v", w, seen)
		}
	}
}

// rawJSON keeps an answer's bytes.
type rawJSON []byte

func (r *rawJSON) UnmarshalJSON(b []byte) error { *r = append((*r)[:0], b...); return nil }

// sse reads a finished run's event stream to its end.
func sse(t *testing.T, url, token string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body) // ends when the run has ended, or at the timeout
	return b.String()
}

func randomHex(t *testing.T) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
