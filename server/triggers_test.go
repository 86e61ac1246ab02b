package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/store"

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
        signedHeaders: [X-PagerDuty-Version]
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

func setup(t *testing.T) (*plan.Plan, *plan.Evaluator) {
	t.Helper()
	p, _, err := runbooks.Build("t.yaml", []byte(triggered), runbooks.Options{Actions: activities.Catalog()})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := plan.NewEvaluator(p)
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

const pdKey = "pd-signing-key-0123"

// pdDelivery is a PagerDuty-shaped delivery signed at t.
func pdDelivery(t time.Time) ([]byte, http.Header) {
	body := []byte(`{"event": {"event_type": "incident.triggered", "data": {"service": {"summary": "checkout"}}}}`)
	h := http.Header{}
	h.Set("X-Pagerduty-Version", "3")
	h.Set("X-Signature-256", Sign([]byte(pdKey), body, t, "evt-1", "x-pagerduty-version", "3"))
	return body, h
}

func TestMatchWebhookVerifiesTheSignature(t *testing.T) {
	p, ev := setup(t)
	now := time.Unix(1767225600, 0).UTC()
	tr := WebhookTrigger(p, "pagerduty")
	body, h := pdDelivery(now)
	h.Set("X-Unsigned", "evil")
	d, err := VerifyWebhook(tr, body, h, secretMap{"PD_KEY": pdKey}, now.Add(SignatureWindow))
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != "evt-1" || !d.SignedAt.Equal(now) || !reflect.DeepEqual(d.Headers, map[string]any{"x-pagerduty-version": "3"}) {
		t.Errorf("delivery = %+v: only signed headers reach the trigger", d)
	}
	m, err := MatchWebhook(p, ev, d)
	if err != nil || m == nil || m.Params["service"] != "checkout" || m.Params["severity"] != "warning" {
		t.Fatalf("match = %+v, %v", m, err)
	}
	if m, err := MatchWebhook(p, ev, &Delivery{Hook: "github", Body: body}); m != nil || err != nil {
		t.Errorf("unknown hook: %+v, %v", m, err)
	}
}

// Each way a delivery is refused, with its exact message.
func TestVerifyWebhookRefuses(t *testing.T) {
	p, _ := setup(t)
	tr := WebhookTrigger(p, "pagerduty")
	now := time.Unix(1767225600, 0).UTC()
	body, good := pdDelivery(now)
	oldMAC := hmac.New(sha256.New, []byte(pdKey))
	oldMAC.Write(body)
	oldForm := hex.EncodeToString(oldMAC.Sum(nil))
	for _, tt := range []struct {
		name string
		edit func(h http.Header)
		key  string
		at   time.Time
		err  error
		want string
	}{
		{"missing header", func(h http.Header) { h.Del("X-Signature-256") }, pdKey, now, ErrBadSignature,
			"webhook pagerduty: missing signature header X-Signature-256"},
		{"old GitHub form", func(h http.Header) { h.Set("X-Signature-256", "sha256="+oldForm) }, pdKey, now, ErrBadSignature,
			"webhook pagerduty: old-form signature (an HMAC of the body alone) is refused: it can be replayed"},
		{"old bare hex", func(h http.Header) { h.Set("X-Signature-256", oldForm) }, pdKey, now, ErrBadSignature,
			"webhook pagerduty: old-form signature (an HMAC of the body alone) is refused: it can be replayed"},
		{"no id", func(h http.Header) { h.Set("X-Signature-256", "t=1767225600,v1="+oldForm) }, pdKey, now, ErrBadSignature,
			"webhook pagerduty: malformed X-Signature-256: no id= delivery id"},
		{"no t", func(h http.Header) { h.Set("X-Signature-256", "id=x,v1="+oldForm) }, pdKey, now, ErrBadSignature,
			"webhook pagerduty: malformed X-Signature-256: no t= timestamp"},
		{"bad t", func(h http.Header) { h.Set("X-Signature-256", "t=-5,id=x,v1="+oldForm) }, pdKey, now, ErrBadSignature,
			"webhook pagerduty: malformed X-Signature-256: t=-5 is not a Unix time in seconds"},
		{"bad id", func(h http.Header) { h.Set("X-Signature-256", "t=1,id=a.b,v1="+oldForm) }, pdKey, now, ErrBadSignature,
			"webhook pagerduty: malformed X-Signature-256: id= must be 1 to 100 letters, digits, '_', ':' or '-'"},
		{"short v1", func(h http.Header) { h.Set("X-Signature-256", "t=1,id=a,v1=abcd") }, pdKey, now, ErrBadSignature,
			"webhook pagerduty: malformed X-Signature-256: v1= must be 64 hex digits"},
		{"forged", func(h http.Header) {
			h.Set("X-Signature-256", Sign([]byte("another-key-of-20-bytes"), body, now, "evt-1", "x-pagerduty-version", "3"))
		}, pdKey, now, ErrBadSignature, "webhook pagerduty: signature does not verify"},
		{"signed header changed", func(h http.Header) { h.Set("X-Pagerduty-Version", "2") }, pdKey, now, ErrBadSignature,
			"webhook pagerduty: signature does not verify"},
		{"signed header dropped", func(h http.Header) { h.Del("X-Pagerduty-Version") }, pdKey, now, ErrBadSignature,
			"webhook pagerduty: signed header x-pagerduty-version is missing"},
		{"signed header twice", func(h http.Header) { h.Add("X-Pagerduty-Version", "3") }, pdKey, now, ErrBadSignature,
			"webhook pagerduty: signed header x-pagerduty-version is sent 2 times"},
		{"another id", func(h http.Header) {
			h.Set("X-Signature-256", strings.Replace(h.Get("X-Signature-256"), "id=evt-1", "id=evt-2", 1))
		}, pdKey, now, ErrBadSignature, "webhook pagerduty: signature does not verify"},
		{"stale", nil, pdKey, now.Add(SignatureWindow + time.Second), ErrBadSignature,
			"webhook pagerduty: stale delivery: signed 5m1s ago, more than 5m0s"},
		{"future", nil, pdKey, now.Add(-SignatureWindow - 90*time.Second), ErrBadSignature,
			"webhook pagerduty: delivery signed 6m30s in the future, more than 5m0s"},
		{"short key", nil, "0123456789", now, ErrNoKey,
			"webhook pagerduty cannot verify deliveries: its signing key PD_KEY is 10 bytes, shorter than 16"},
		{"empty key", nil, "", now, ErrNoKey,
			"webhook pagerduty cannot verify deliveries: its signing key PD_KEY is empty"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := good.Clone()
			if tt.edit != nil {
				tt.edit(h)
			}
			d, err := VerifyWebhook(tr, body, h, secretMap{"PD_KEY": tt.key}, tt.at)
			if !errors.Is(err, tt.err) || err.Error() != tt.want {
				t.Errorf("err = %v, want %v: %s", err, tt.err, tt.want)
			}
			if d != nil {
				t.Errorf("a refused delivery came back: %+v", d)
			}
		})
	}
	if _, err := VerifyWebhook(tr, body, good, secretMap{}, now); err == nil || err.Error() != "webhook pagerduty cannot verify deliveries: its signing key PD_KEY is not set" {
		t.Errorf("no key: %v", err)
	}
}

// A rotated key: the sender signs with both keys while the API changes.
func TestVerifyWebhookKeyRotation(t *testing.T) {
	p, _ := setup(t)
	now := time.Unix(1767225600, 0).UTC()
	body, h := pdDelivery(now)
	newer := Sign([]byte("the-next-pd-signing-key"), body, now, "evt-1", "x-pagerduty-version", "3")
	_, v1New, _ := strings.Cut(newer, ",v1=")
	h.Set("X-Signature-256", h.Get("X-Signature-256")+",v1="+v1New+",v0=ignored")
	for _, key := range []string{pdKey, "the-next-pd-signing-key"} {
		if _, err := VerifyWebhook(WebhookTrigger(p, "pagerduty"), body, h, secretMap{"PD_KEY": key}, now); err != nil {
			t.Errorf("key %s: %v", key, err)
		}
	}
}

// A trigger sees resolved alerts too, and a resolution is not a duplicate
// of the firing it ends.
func TestResolvedAlertsMatch(t *testing.T) {
	c := temporalStack(t)
	eachStore(t, func(t *testing.T, st *store.Store) {
		a := newTrustAPI(t, c, st)
		src := `apiVersion: runbook/v1
kind: Runbook
metadata: {name: flap}
spec:
  params: [{name: state, type: string, default: none}]
  triggers:
    - alertmanager: {match: "alert.labels.alertname == 'Flap'", params: {state: alert.status}}
  steps:
    - {id: hi, action: log, with: {message: "${{ params.state }}"}}
`
		if got := a.call("POST", "/api/v1/runbooks", a.author, src, nil); got != 201 {
			t.Fatalf("register: %d", got)
		}
		post := func(status string) hookResult {
			alert := map[string]any{"status": status, "alerts": []any{map[string]any{"status": status, "fingerprint": "f1",
				"startsAt": "2026-12-01T09:00:00Z", "labels": map[string]any{"alertname": "Flap"}}}}
			var res struct {
				Runs []hookResult `json:"runs"`
			}
			if got := a.call("POST", "/hooks/alertmanager", a.am, alert, &res); got != 200 || len(res.Runs) != 1 {
				t.Fatalf("%s alert: %d %+v", status, got, res)
			}
			return res.Runs[0]
		}
		fired := post("firing")
		resolved := post("resolved")
		if resolved.Outcome != "started" || resolved.Run == "" || resolved.Run == fired.Run {
			t.Fatalf("the resolved alert: %+v (firing: %+v)", resolved, fired)
		}
		var v runView
		a.call("GET", "/api/v1/runs/"+resolved.Run, a.viewer, nil, &v)
		if v.Params["state"] != "resolved" {
			t.Errorf("the resolved run's params: %v", v.Params)
		}
		if again := post("resolved"); again.Outcome != "duplicate" || again.Run != resolved.Run {
			t.Errorf("the resolved alert again: %+v", again)
		}
	})
}
