package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/runbooks"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/worker"
)

const remediation = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: remediate}
spec:
  params: [{name: service, type: string, required: true}]
  secrets: [HOOK_KEY]
  concurrency: {key: "params.service", onConflict: attach}
  triggers:
    - alertmanager:
        match: "alert.labels.alertname == 'ServiceDown'"
        params: {service: "alert.labels.service"}
    - webhook:
        name: grafana
        secret: HOOK_KEY
        match: "body.state == 'alerting'"
        params: {service: "body.service"}
  schedules:
    - {name: nightly, cron: "0 3 * * *", params: {service: batch}}
  steps:
    - id: ack
      approval: {approvers: ["group:oncall"], timeout: 10m}
`

func TestAPIHooksSchedulesAndApprovals(t *testing.T) {
	c := temporalStack(t)
	st, err := store.Open(filepath.Join(t.TempDir(), "hooks.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	api := &API{Store: st, Temporal: c, TaskQueue: worker.TaskQueue, Catalog: activities.Catalog(),
		Secrets: secretMap{"HOOK_KEY": hookKey}, Scheduler: &Scheduler{Client: c, TaskQueue: worker.TaskQueue}}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	cl := apiClient{t, srv.URL}
	admin, _, _ := st.CreateToken("root", []string{"admin"}, nil)
	oncall, _, _ := st.CreateToken("olga", []string{"approver", "viewer"}, []string{"oncall"})
	dev, _, _ := st.CreateToken("dave", []string{"viewer"}, []string{"dev"})
	if got := cl.call("POST", "/api/v1/runbooks", admin, remediation, nil); got != 201 {
		t.Fatalf("register: %d", got)
	}

	alert := func(fp, service string, at time.Time) map[string]any {
		return map[string]any{"status": "firing", "alerts": []any{map[string]any{"status": "firing", "fingerprint": fp, "startsAt": at,
			"labels": map[string]any{"alertname": "ServiceDown", "service": service}}}}
	}
	type hookAnswer struct {
		Runs []hookResult `json:"runs"`
	}
	at := time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)
	var first, dup, joined, other hookAnswer
	cl.call("POST", "/hooks/alertmanager", admin, alert("fp1", "api", at), &first)
	cl.call("POST", "/hooks/alertmanager", admin, alert("fp1", "api", at), &dup)
	cl.call("POST", "/hooks/alertmanager", admin, alert("fp2", "api", at.Add(time.Minute)), &joined)
	cl.call("POST", "/hooks/alertmanager", admin, alert("fp3", "db", at), &other)
	if len(first.Runs) != 1 || first.Runs[0].Outcome != "started" {
		t.Fatalf("first alert: %+v", first)
	}
	if dup.Runs[0].Outcome != "duplicate" || dup.Runs[0].Run != first.Runs[0].Run {
		t.Errorf("same alert again: %+v", dup)
	}
	if joined.Runs[0].Outcome != "attached" || joined.Runs[0].Run != first.Runs[0].Run {
		t.Errorf("re-firing alert: %+v", joined)
	}
	if other.Runs[0].Outcome != "started" || other.Runs[0].Run == first.Runs[0].Run {
		t.Errorf("another service: %+v", other)
	}
	if got := cl.call("POST", "/hooks/alertmanager", "", alert("fp9", "x", at), nil); got != 401 {
		t.Errorf("alert without a token: %d", got)
	}

	body := `{"state": "alerting", "service": "checkout"}`
	var hooked hookAnswer
	if got := cl.call("POST", "/hooks/webhook/grafana", "", body, &hooked, "X-Signature-256", Sign([]byte(hookKey), []byte(body), time.Now(), "d-1")); got != 200 || hooked.Runs[0].Outcome != "started" {
		t.Errorf("signed webhook: %d %+v", got, hooked)
	}
	if got := cl.call("POST", "/hooks/webhook/grafana", "", body, nil, "X-Signature-256", Sign([]byte("guess-guess-guess"), []byte(body), time.Now(), "d-2")); got != 401 {
		t.Errorf("forged webhook: %d", got)
	}
	if got := cl.call("POST", "/hooks/webhook/nope", "", body, nil); got != 404 {
		t.Errorf("unknown webhook: %d", got)
	}

	var mine, notMine struct {
		Approvals []pendingApproval `json:"approvals"`
	}
	waitFor(t, func() bool {
		cl.call("GET", "/api/v1/approvals?mine=true", oncall, nil, &mine)
		return len(mine.Approvals) == 3
	})
	cl.call("GET", "/api/v1/approvals?mine=true", dev, nil, &notMine)
	if len(notMine.Approvals) != 0 {
		t.Errorf("approvals for a non-approver: %+v", notMine)
	}

	var scheds struct {
		Schedules []scheduleView `json:"schedules"`
	}
	if cl.call("GET", "/api/v1/schedules", dev, nil, &scheds); len(scheds.Schedules) != 1 || len(scheds.Schedules[0].Next) != 3 {
		t.Errorf("schedules: %+v", scheds)
	}
	for _, action := range []string{"pause", "unpause", "trigger"} {
		if got := cl.call("POST", "/api/v1/runbooks/remediate/schedules/nightly/"+action, admin, nil, nil); got != 202 {
			t.Errorf("%s: %d", action, got)
		}
	}
	if got := cl.call("POST", "/api/v1/runbooks/remediate/schedules/nightly/pause", dev, nil, nil); got != 403 {
		t.Errorf("viewer pausing: %d", got)
	}
	if got := cl.call("GET", "/api/v1/runbooks/remediate/schedules/weekly", dev, nil, nil); got != 404 {
		t.Errorf("unknown schedule: %d", got)
	}
	if got := cl.call("GET", "/api/v1/nowhere", dev, nil, nil); got != 404 {
		t.Errorf("unknown route: %d", got)
	}
}

const hookKey = "grafana-signing-key-2026"

const paged = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: paged}
spec:
  params:
    - {name: service, type: string, required: true}
    - {name: org, type: string, required: true}
  secrets: [HOOK_KEY, SHORT_KEY]
  triggers:
    - webhook:
        name: grafana
        secret: HOOK_KEY
        signedHeaders: [X-Grafana-Org]
        match: "body.state == 'alerting'"
        params: {service: "body.service", org: "headers['x-grafana-org']"}
    - webhook:
        name: weak
        secret: SHORT_KEY
        params: {service: "body.service", org: "'none'"}
  steps: [{id: a, action: log, with: {message: "paged ${{ params.service }}"}}]
`

// The attacks on signed webhooks, each first shown to be possible in
// shape (a captured delivery, an unsigned header, an old-form signature,
// a short key) and then refused with its status and message, starting
// nothing.
func TestWebhookAttacksAreRefused(t *testing.T) {
	c := temporalStack(t)
	db := filepath.Join(t.TempDir(), "hooks.db")
	replica := func() (apiClient, *store.Store) {
		st, err := store.Open(db)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		api := &API{Store: st, Temporal: c, TaskQueue: worker.TaskQueue, Catalog: activities.Catalog(),
			Secrets: secretMap{"HOOK_KEY": hookKey, "SHORT_KEY": "0123456789"}}
		srv := httptest.NewServer(api.Handler())
		t.Cleanup(srv.Close)
		return apiClient{t, srv.URL}, st
	}
	cl, st := replica()
	other, _ := replica() // a second API process on the same database
	admin, _, _ := st.CreateToken("root", []string{"admin"}, nil)
	if got := cl.call("POST", "/api/v1/runbooks", admin, paged, nil); got != 201 {
		t.Fatalf("register: %d", got)
	}
	runs := func() []store.Run {
		rs, _, err := st.Runs(store.RunFilter{Runbook: "paged"})
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	type answer struct {
		Runs []hookResult `json:"runs"`
	}
	body := `{"state": "alerting", "service": "checkout"}`
	now := time.Now()
	captured := Sign([]byte(hookKey), []byte(body), now, "evt-1", "X-Grafana-Org", "7")
	refused := func(client apiClient, name string, wantStatus int, wantMsg string, header ...string) {
		t.Helper()
		before := len(runs())
		var p Problem
		if got := client.call("POST", "/hooks/webhook/"+name, "", body, &p, header...); got != wantStatus || p.Error != wantMsg || len(p.Details) != 1 {
			t.Errorf("%d %+v, want %d %q", got, p, wantStatus, wantMsg)
		}
		if after := len(runs()); after != before {
			t.Errorf("a refused delivery started a run: %d runs, was %d", after, before)
		}
	}

	var first answer
	if got := cl.call("POST", "/hooks/webhook/grafana", "", body, &first, "X-Signature-256", captured, "X-Grafana-Org", "7", "Idempotency-Key", "k"); got != 200 || len(first.Runs) != 1 || first.Runs[0].Outcome != "started" {
		t.Fatalf("the genuine delivery: %d %+v", got, first)
	}
	rs := runs()
	if len(rs) != 1 || string(rs[0].Params) != `{"org":"7","service":"checkout"}` || rs[0].TriggerDetail != "grafana delivery evt-1" {
		t.Fatalf("runs: %+v", rs)
	}
	if ran, _ := st.Run(first.Runs[0].Run); ran == nil || ran.IdempotencyKey == nil || *ran.IdempotencyKey != "webhook:paged:evt-1" {
		t.Errorf("the run's idempotency key is not the signed delivery id: %+v", ran)
	}

	// The captured delivery replayed at once, to this API and to another
	// replica.
	replay := "webhook grafana: delivery evt-1 signed at " + now.UTC().Format(time.RFC3339) + " was received before: a replay is refused"
	refused(cl, "grafana", 409, replay, "X-Signature-256", captured, "X-Grafana-Org", "7")
	refused(other, "grafana", 409, replay, "X-Signature-256", captured, "X-Grafana-Org", "7")
	// ... and after the window: stale.
	webhookNow = func() time.Time { return now.Add(SignatureWindow + time.Minute) }
	refused(other, "grafana", 401, "webhook grafana: stale delivery: signed 6m0s ago, more than 5m0s", "X-Signature-256", captured, "X-Grafana-Org", "7")
	webhookNow = timeNow

	// The captured signature with the signed header changed.
	refused(cl, "grafana", 401, "webhook grafana: signature does not verify", "X-Signature-256", captured, "X-Grafana-Org", "1")
	// An old-form signature, valid for the body as GitHub computes it.
	refused(cl, "grafana", 401, "webhook grafana: old-form signature (an HMAC of the body alone) is refused: it can be replayed",
		"X-Signature-256", oldFormSign(hookKey, body), "X-Grafana-Org", "7")
	refused(cl, "grafana", 401, "webhook grafana: missing signature header X-Signature-256", "X-Grafana-Org", "7")
	// A correctly signed delivery under a 10-byte key.
	refused(cl, "weak", 503, "webhook weak cannot verify deliveries: its signing key SHORT_KEY is 10 bytes, shorter than 16",
		"X-Signature-256", Sign([]byte("0123456789"), []byte(body), now, "evt-1"))

	// The sender retries: signed again, same id. No second run.
	var retry answer
	resigned := Sign([]byte(hookKey), []byte(body), now.Add(time.Second), "evt-1", "X-Grafana-Org", "7")
	if got := other.call("POST", "/hooks/webhook/grafana", "", body, &retry, "X-Signature-256", resigned, "X-Grafana-Org", "7"); got != 200 || retry.Runs[0].Outcome != "duplicate" || retry.Runs[0].Run != first.Runs[0].Run {
		t.Errorf("a re-signed retry: %d %+v", got, retry)
	}
	// An unsigned Idempotency-Key names no run: another delivery id
	// starts another run.
	var next answer
	second := Sign([]byte(hookKey), []byte(body), now, "evt-2", "X-Grafana-Org", "7")
	if got := cl.call("POST", "/hooks/webhook/grafana", "", body, &next, "X-Signature-256", second, "X-Grafana-Org", "7", "Idempotency-Key", "k"); got != 200 || next.Runs[0].Outcome != "started" || next.Runs[0].Run == first.Runs[0].Run {
		t.Errorf("another delivery with the same unsigned Idempotency-Key: %d %+v", got, next)
	}
	if n := len(runs()); n != 2 {
		t.Errorf("%d runs, want 2", n)
	}
	if n, _ := st.Deliveries("grafana"); n != 3 {
		t.Errorf("%d deliveries remembered, want 3", n)
	}

	// A trigger reading an unsigned header is refused when registered...
	unsigned := strings.Replace(strings.Replace(paged, "signedHeaders: [X-Grafana-Org]", "signedHeaders: []", 1), "name: paged", "name: unsigned", 1)
	var bad Problem
	if got := cl.call("POST", "/api/v1/runbooks", admin, unsigned, &bad); got != 422 || len(bad.Details) != 1 ||
		bad.Details[0].(map[string]any)["message"] != `header "x-grafana-org" is not signed: a trigger may read only the headers in signedHeaders` {
		t.Errorf("registering a trigger that reads an unsigned header: %d %+v", got, bad)
	}
	// ... and a plan stored before signedHeaders existed does not see it.
	old, _, err := runbooks.Build("old.yaml", []byte(strings.NewReplacer("name: paged", "name: legacy", "name: grafana", "name: grafana-old").Replace(paged)), runbooks.Options{Actions: activities.Catalog()})
	if err != nil {
		t.Fatal(err)
	}
	old.Triggers[0].SignedHeaders = nil
	if _, _, err := st.SaveRunbook(paged, old, "before-the-upgrade"); err != nil {
		t.Fatal(err)
	}
	var legacy answer
	unsignedSig := Sign([]byte(hookKey), []byte(body), now, "evt-3")
	got := cl.call("POST", "/hooks/webhook/grafana-old", "", body, &legacy, "X-Signature-256", unsignedSig, "X-Grafana-Org", "666")
	if got != 200 || len(legacy.Runs) != 1 || legacy.Runs[0].Run != "" || legacy.Runs[0].Error != `trigger of legacy: param org: expression "headers['x-grafana-org']" (line 15): no such key: x-grafana-org` {
		t.Errorf("a legacy trigger reading an unsigned header: %d %+v", got, legacy)
	}
	if rs, _, _ := st.Runs(store.RunFilter{Runbook: "legacy"}); len(rs) != 0 {
		t.Errorf("legacy runs: %+v", rs)
	}
}

func oldFormSign(key, body string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// docBlock returns the text of the fenced block of lang in doc that
// contains marker.
func docBlock(t *testing.T, doc, lang, marker string) string {
	t.Helper()
	for _, m := range regexp.MustCompile("(?s)```"+lang+"\n(.*?)```").FindAllStringSubmatch(doc, -1) {
		if strings.Contains(m[1], marker) {
			return m[1]
		}
	}
	t.Fatalf("no %s block with %q in the docs", lang, marker)
	return ""
}

// The webhook examples of docs/runbook-format.md work as written: the
// trigger registers, the shell commands start a run, and the Go function
// signs what the API verifies.
func TestWebhookDocExamples(t *testing.T) {
	b, err := os.ReadFile("../docs/runbook-format.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	dir := t.TempDir()
	key := "docs-example-key-0123456789"
	os.Mkdir(filepath.Join(dir, "webhook-secrets"), 0o700)
	if err := os.WriteFile(filepath.Join(dir, "webhook-secrets", "GRAFANA_KEY"), []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(dir, "docs.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := temporalStack(t)
	api := &API{Store: st, Temporal: c, TaskQueue: worker.TaskQueue, Catalog: activities.Catalog(), Secrets: activities.DirSecrets(filepath.Join(dir, "webhook-secrets"))}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	cl := apiClient{t, srv.URL}
	admin, _, _ := st.CreateToken("root", []string{"admin"}, nil)

	triggers := docBlock(t, doc, "yaml", "signedHeaders: [X-Grafana-Org]")
	rb := "apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: docs}\nspec:\n" +
		"  params: [{name: service, type: string, required: true}, {name: org, type: string, required: true}]\n" +
		"  secrets: [GRAFANA_KEY]\n  steps: [{id: a, action: log, with: {message: hi}}]\n  " +
		strings.ReplaceAll(strings.TrimSpace(triggers), "\n", "\n  ") + "\n"
	var reg Problem
	if got := cl.call("POST", "/api/v1/runbooks", admin, rb, &reg); got != 201 {
		t.Fatalf("the documented trigger: %d %+v\n%s", got, reg, rb)
	}

	sh := docBlock(t, doc, "sh", "openssl dgst")
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", strings.ReplaceAll(sh, "http://127.0.0.1:8080", srv.URL))
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	var answer struct {
		Runs []hookResult `json:"runs"`
	}
	if err != nil || json.Unmarshal(out, &answer) != nil || len(answer.Runs) != 1 || answer.Runs[0].Outcome != "started" {
		t.Fatalf("the documented shell commands: %v\n%s", err, out)
	}
	if r, err := st.Run(answer.Runs[0].Run); err != nil || string(r.Params) != `{"org":"7","service":"checkout"}` {
		t.Errorf("run: %+v, %v", r, err)
	}

	goSign := docBlock(t, doc, "go", "func sign(")
	prog := `package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

func main() {
	fmt.Print(sign([]byte("` + key + `"), []byte("{\"state\": \"alerting\"}"), "evt-7", [2]string{"X-Grafana-Org", "7"}))
}

` + goSign
	godir := t.TempDir()
	os.WriteFile(filepath.Join(godir, "go.mod"), []byte("module docsign\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(godir, "main.go"), []byte(prog), 0o644)
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go on PATH to run the documented Go function: %v", err)
	}
	run := exec.Command(goBin, "run", ".")
	run.Dir = godir
	sig, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("the documented Go function: %v\n%s", err, sig)
	}
	h := http.Header{}
	h.Set("X-Signature-256", string(sig))
	h.Set("X-Grafana-Org", "7")
	p, _ := st.Runbook("docs", 0)
	plan, _ := p.PlanOf()
	if _, err := VerifyWebhook(WebhookTrigger(plan, "grafana"), []byte(`{"state": "alerting"}`), h, api.Secrets, time.Now()); err != nil {
		t.Errorf("the Go function's signature %s: %v", sig, err)
	}
}
