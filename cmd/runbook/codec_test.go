package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"
)

const secretive = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: secretive}
spec:
  params: [{name: canary, type: string, required: true}]
  steps:
    - id: gate
      approval: {approvers: ["group:change-board"]}
    - {id: echo, action: log, with: {message: "out-${{ params.canary }}"}}
  outputs:
    said: steps.echo.outputs.message
`

// stateHolds reports whether Temporal's SQLite files under dir hold s.
func stateHolds(t *testing.T, dir, s string) bool {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "temporal.db*"))
	if len(files) == 0 {
		t.Fatalf("no Temporal database in %s", dir)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(s)) {
			return true
		}
	}
	return false
}

// With codec keys, nothing a run carries (params, outputs, vote comments)
// is in Temporal's database in plain text, as it is without them; a key
// rotation mid-life finishes the runs of the old key; /codec/decode shows
// payloads to a token holder, and a server without the key says so.
func TestEncryptedHistory(t *testing.T) {
	if testing.Short() {
		t.Skip("starts runbook dev")
	}
	keyFile := func(name string) string {
		b := make([]byte, 32)
		rand.Read(b)
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, []byte(hex.EncodeToString(b)), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	k1, k2, k3 := keyFile("k1"), keyFile("k2"), keyFile("k3")
	canary := func(what string) string { return fmt.Sprintf("%s-canary-%d", what, time.Now().UnixNano()) }
	// start starts secretive with param p and waits for its approval;
	// approve approves it with a comment and waits for its success.
	start := func(dev *devProc, p string) string {
		t.Helper()
		var r runAnswer
		mustCall(t, 201, dev.api, dev.tokens["RUNBOOK_OPERATOR_TOKEN"], "POST", "/api/v1/runbooks/secretive/runs", map[string]any{"params": map[string]any{"canary": p}}, &r)
		awaitRun(t, dev.api, dev.tokens["RUNBOOK_OPERATOR_TOKEN"], r.ID, time.Minute, func(r runAnswer) bool { return r.step("gate") == "waiting-approval" })
		return r.ID
	}
	approve := func(dev *devProc, id, comment string) {
		t.Helper()
		mustCall(t, 200, dev.api, dev.tokens["RUNBOOK_APPROVER1_TOKEN"], "POST", "/api/v1/runs/"+id+"/approvals/gate", map[string]any{"decision": "approve", "comment": comment}, nil)
		if got := awaitRun(t, dev.api, dev.tokens["RUNBOOK_OPERATOR_TOKEN"], id, time.Minute, func(r runAnswer) bool { return r.Status != "running" }); got.Status != "succeeded" {
			t.Fatalf("run %s: %+v", id, got)
		}
	}

	// Without keys the canaries are there to find: the check can see them.
	plainDir := t.TempDir()
	dev := startDevProc(t, plainDir, nil)
	mustCall(t, 201, dev.api, dev.tokens["RUNBOOK_ADMIN_TOKEN"], "POST", "/api/v1/runbooks", secretive, nil)
	p, c := canary("param"), canary("comment")
	approve(dev, start(dev, p), c)
	dev.kill()
	if !stateHolds(t, plainDir, p) || !stateHolds(t, plainDir, c) {
		t.Fatal("without encryption the canaries are not in Temporal's database: this check cannot tell")
	}

	dir := t.TempDir()
	dev = startDevProc(t, dir, nil, "--codec-keys", "k1="+k1)
	mustCall(t, 201, dev.api, dev.tokens["RUNBOOK_ADMIN_TOKEN"], "POST", "/api/v1/runbooks", secretive, nil)
	p1, c1 := canary("param"), canary("comment")
	first := start(dev, p1)
	approve(dev, first, c1)
	waiting := start(dev, canary("param"))

	// The codec server decodes the run's input for a token holder.
	tc, err := client.Dial(client.Options{HostPort: dev.temporal})
	if err != nil {
		t.Fatal(err)
	}
	it := tc.GetWorkflowHistory(context.Background(), first, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	ev, err := it.Next()
	tc.Close()
	if err != nil {
		t.Fatal(err)
	}
	input, _ := protojson.Marshal(ev.GetWorkflowExecutionStartedEventAttributes().GetInput())
	if bytes.Contains(input, []byte(p1)) {
		t.Fatalf("the run's input is in the clear: %s", input)
	}
	decode := func(dev *devProc, token string) (int, string) {
		req, _ := http.NewRequest("POST", dev.api+"/codec/decode", bytes.NewReader(input))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	if code, body := decode(dev, dev.tokens["RUNBOOK_APPROVER2_TOKEN"]); code != 200 || !strings.Contains(body, `"metadata"`) {
		t.Errorf("decode: %d %s", code, body)
	} else if !strings.Contains(decodedData(t, body), p1) {
		t.Errorf("decoded input lacks the param: %s", body)
	}
	if code, _ := decode(dev, ""); code != 401 {
		t.Errorf("decode without a token: %d", code)
	}

	// Rotation: k2 encrypts from now on, k1 still decrypts; the run that
	// waited across it finishes, and a new one runs.
	dev.kill()
	dev = startDevProc(t, dir, nil, "--codec-keys", "k2="+k2+",k1="+k1)
	c2 := canary("comment")
	approve(dev, waiting, c2)
	p3 := canary("param")
	approve(dev, start(dev, p3), canary("comment"))
	dev.kill()
	for _, s := range []string{p1, c1, c2, p3, "out-" + p1} {
		if stateHolds(t, dir, s) {
			t.Errorf("Temporal's database holds %q in plain text", s)
		}
	}

	// A server without the keys says which key it lacks.
	dev = startDevProc(t, dir, nil, "--codec-keys", "k3="+k3)
	if code, body := decode(dev, dev.tokens["RUNBOOK_APPROVER2_TOKEN"]); code != 400 || !strings.Contains(body, `payload encrypted with key "k1", which this process does not have (keys: k3)`) {
		t.Errorf("decode without the key: %d %s", code, body)
	}
}

// decodedData is the data of the payloads a codec answer holds, as text.
func decodedData(t *testing.T, body string) string {
	t.Helper()
	var out strings.Builder
	var v struct {
		Payloads []struct {
			Data []byte `json:"data"`
		} `json:"payloads"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	for _, p := range v.Payloads {
		out.Write(p.Data)
	}
	return out.String()
}
