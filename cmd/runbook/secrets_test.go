package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A run that uses a secret for real (an HTTP header, a script's
// environment, stdout, stderr, a failing step's error) leaves its value
// nowhere: not in Temporal's state (history included), the records, the
// process's logs or any API answer. A plain param is found in the same
// places, so the search would see the secret if it were there.
func TestSecretNeverLeaves(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	secret, marker := "s3cr3t-"+randomHex(t), "marker-"+randomHex(t)
	var authorized atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer "+secret {
			authorized.Add(1)
		}
		w.Write([]byte(`{"echo": "` + r.Header.Get("Authorization") + `"}`))
	}))
	defer target.Close()

	state := t.TempDir()
	dev := startDevProc(t, state, []string{"RUNBOOK_SECRET_API_KEY=" + secret})
	admin := dev.tokens["RUNBOOK_ADMIN_TOKEN"]
	mustCall(t, 201, dev.api, admin, "POST", "/api/v1/runbooks", `apiVersion: runbook/v1
kind: Runbook
metadata: {name: leaky}
spec:
  params: [{name: note, type: string}]
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
  outputs:
    body: steps.call.outputs.body
    stdout: steps.script.outputs.stdout
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
	time.Sleep(3 * time.Second) // the records syncer writes the finished run
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
		for _, form := range []string{secret, base64.StdEncoding.EncodeToString([]byte(secret)), hex.EncodeToString([]byte(secret))} {
			if bytes.Contains(b, []byte(form)) {
				t.Errorf("the secret is in %s", where)
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
