// Package server is the engine's HTTP face: the API, auth, schedules and
// the triggers that start runs from alerts and webhooks.
package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/runbooks"
)

// ErrBadSignature is a webhook whose signature does not verify.
var ErrBadSignature = errors.New("webhook signature does not verify")

// VerifySignature checks that header holds the HMAC-SHA256 of body under
// key, as hex, optionally prefixed "sha256=" (GitHub's form). It compares
// in constant time.
func VerifySignature(key, body []byte, header string) error {
	sig := strings.TrimPrefix(strings.TrimSpace(header), "sha256=")
	got, err := hex.DecodeString(sig)
	if err != nil || len(got) != sha256.Size {
		return ErrBadSignature
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return ErrBadSignature
	}
	return nil
}

// Sign returns the signature header value a sender would compute.
func Sign(key, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Alert is one alert of an Alertmanager webhook payload.
type Alert struct {
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	Fingerprint string            `json:"fingerprint"`
}

// Match is a trigger that matched, with the params it gives the run.
type Match struct {
	Trigger *runbooks.PlanTrigger
	Params  map[string]any
}

// MatchAlert evaluates a plan's alertmanager triggers against one alert
// and returns the first that matches, or nil.
func MatchAlert(p *runbooks.Plan, ev *runbooks.Evaluator, a Alert) (*Match, error) {
	vars := runbooks.Vars{"alert": map[string]any{
		"status": a.Status, "labels": stringMap(a.Labels), "annotations": stringMap(a.Annotations),
		"startsAt": a.StartsAt, "fingerprint": a.Fingerprint,
	}}
	return match(p, ev, "alertmanager", "", vars)
}

// MatchWebhook verifies a webhook posted to the trigger named name and
// evaluates its match. A request whose signature does not verify under
// the trigger's secret is refused before anything reads its body.
func MatchWebhook(p *runbooks.Plan, ev *runbooks.Evaluator, name string, body []byte, header http.Header, secrets activities.SecretSource) (*Match, error) {
	var t *runbooks.PlanTrigger
	for i := range p.Triggers {
		if p.Triggers[i].Kind == "webhook" && p.Triggers[i].Name == name {
			t = &p.Triggers[i]
		}
	}
	if t == nil {
		return nil, nil
	}
	if secrets == nil {
		return nil, fmt.Errorf("webhook %s: the server has no secret source for %s", name, t.Secret)
	}
	key, err := secrets.Secret(t.Secret)
	if err != nil {
		return nil, fmt.Errorf("webhook %s: %w", name, err)
	}
	if err := VerifySignature([]byte(key), body, header.Get(t.SignatureHeader)); err != nil {
		return nil, err
	}
	var payload any
	if err := json.Unmarshal(body, &payload); err != nil {
		return nil, fmt.Errorf("webhook %s: the body is not JSON: %w", name, err)
	}
	headers := map[string]any{}
	for k, v := range header {
		if len(v) > 0 {
			headers[strings.ToLower(k)] = v[0]
		}
	}
	return match(p, ev, "webhook", name, runbooks.Vars{"body": payload, "headers": headers})
}

func match(p *runbooks.Plan, ev *runbooks.Evaluator, kind, name string, vars runbooks.Vars) (*Match, error) {
	for i := range p.Triggers {
		t := &p.Triggers[i]
		if t.Kind != kind || (name != "" && t.Name != name) {
			continue
		}
		if t.Match != nil {
			ok, err := ev.EvalBool(t.Match, vars)
			if err != nil {
				return nil, fmt.Errorf("trigger of %s: %w", p.Name, err)
			}
			if !ok {
				continue
			}
		}
		given := map[string]any{}
		for _, k := range slices.Sorted(maps.Keys(t.Params)) {
			v, err := ev.Eval(t.Params[k], vars)
			if err != nil {
				return nil, fmt.Errorf("trigger of %s: param %s: %w", p.Name, k, err)
			}
			given[k] = runbooks.JSONValue(v)
		}
		params, err := p.BindParams(given)
		if err != nil {
			return nil, fmt.Errorf("trigger of %s: %w", p.Name, err)
		}
		return &Match{Trigger: t, Params: params}, nil
	}
	return nil, nil
}

func stringMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
