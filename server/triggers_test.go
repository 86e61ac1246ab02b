package server

import (
	"errors"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/runbooks"
)

const triggered = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: remediate}
spec:
  params:
    - {name: service, type: string, required: true}
    - {name: severity, type: string, default: warning}
  secrets: [PD_KEY]
  triggers:
    - alertmanager:
        match: "alert.labels.alertname == 'ServiceDown' && alert.status == 'firing'"
        params: {service: "alert.labels.service", severity: "alert.labels.?severity.orValue('warning')"}
    - webhook:
        name: pagerduty
        secret: PD_KEY
        match: "body.event.event_type == 'incident.triggered' && headers['x-pagerduty-version'] == '3'"
        params: {service: "body.event.data.service.summary"}
  steps: [{id: a, sleep: 1s}]
`

type secretMap map[string]string

func (s secretMap) Secret(name string) (string, error) {
	if v, ok := s[name]; ok {
		return v, nil
	}
	return "", errors.New("no secret " + name)
}

var _ activities.SecretSource = secretMap{}

func setup(t *testing.T) (*runbooks.Plan, *runbooks.Evaluator) {
	t.Helper()
	p, _, err := runbooks.Build("t.yaml", []byte(triggered), runbooks.Options{Actions: activities.Catalog()})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := runbooks.NewEvaluator(p)
	if err != nil {
		t.Fatal(err)
	}
	return p, ev
}

func TestMatchAlert(t *testing.T) {
	p, ev := setup(t)
	a := Alert{Status: "firing", Labels: map[string]string{"alertname": "ServiceDown", "service": "api", "severity": "critical"}, StartsAt: time.Now(), Fingerprint: "abc"}
	m, err := MatchAlert(p, ev, a)
	if err != nil || m == nil || !reflect.DeepEqual(m.Params, map[string]any{"service": "api", "severity": "critical"}) {
		t.Fatalf("match = %+v, %v", m, err)
	}
	a.Status = "resolved"
	if m, err := MatchAlert(p, ev, a); m != nil || err != nil {
		t.Errorf("a resolved alert matched: %+v, %v", m, err)
	}
	a.Status = "firing"
	delete(a.Labels, "service")
	if _, err := MatchAlert(p, ev, a); err == nil {
		t.Error("an alert without the service label gave a run without its required param")
	}
}

func TestMatchWebhookVerifiesTheSignature(t *testing.T) {
	p, ev := setup(t)
	key := "pd-signing-key"
	body := []byte(`{"event": {"event_type": "incident.triggered", "data": {"service": {"summary": "checkout"}}}}`)
	h := http.Header{}
	h.Set("X-Signature-256", Sign([]byte(key), body))
	h.Set("X-Pagerduty-Version", "3")
	m, err := MatchWebhook(p, ev, "pagerduty", body, h, secretMap{"PD_KEY": key})
	if err != nil || m == nil || m.Params["service"] != "checkout" || m.Params["severity"] != "warning" {
		t.Fatalf("match = %+v, %v", m, err)
	}
	for name, hdr := range map[string]string{"forged": Sign([]byte("wrong key"), body), "missing": "", "garbage": "sha256=zz"} {
		h.Set("X-Signature-256", hdr)
		if _, err := MatchWebhook(p, ev, "pagerduty", body, h, secretMap{"PD_KEY": key}); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s signature: %v", name, err)
		}
	}
	if m, err := MatchWebhook(p, ev, "github", body, h, secretMap{}); m != nil || err != nil {
		t.Errorf("unknown hook: %+v, %v", m, err)
	}
}
