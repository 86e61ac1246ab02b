package server

import (
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/activities"
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
		Secrets: secretMap{"HOOK_KEY": "k3y"}, Scheduler: &Scheduler{Client: c, TaskQueue: worker.TaskQueue}}
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
	if got := cl.call("POST", "/hooks/webhook/grafana", "", body, &hooked, "X-Signature-256", Sign([]byte("k3y"), []byte(body))); got != 200 || hooked.Runs[0].Outcome != "started" {
		t.Errorf("signed webhook: %d %+v", got, hooked)
	}
	if got := cl.call("POST", "/hooks/webhook/grafana", "", body, nil, "X-Signature-256", Sign([]byte("guess"), []byte(body))); got != 401 {
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
