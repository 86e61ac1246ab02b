// Package server is the engine's HTTP face: the API, auth, schedules and
// the triggers that start runs from alerts and webhooks.
package server

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/opsrunbook/runbook/plan"
)

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
	Trigger *plan.Trigger
	Params  map[string]any
}

// MatchAlert evaluates a plan's alertmanager triggers against one alert
// and returns the first that matches, or nil.
func MatchAlert(p *plan.Plan, ev *plan.Evaluator, a Alert) (*Match, error) {
	vars := plan.Vars{plan.VarAlert: plan.AlertVars{Status: a.Status, Labels: a.Labels, Annotations: a.Annotations,
		StartsAt: a.StartsAt, Fingerprint: a.Fingerprint}.Value()}
	return match(p, ev, plan.TriggerAlertmanager, "", vars)
}

// WebhookTrigger returns p's webhook trigger named name, or nil.
func WebhookTrigger(p *plan.Plan, name string) *plan.Trigger {
	for i := range p.Triggers {
		if p.Triggers[i].Kind == plan.TriggerWebhook && p.Triggers[i].Name == name {
			return &p.Triggers[i]
		}
	}
	return nil
}

// MatchWebhook evaluates p's trigger of a verified delivery: match and
// params see the JSON body and only the headers the signature covers.
func MatchWebhook(p *plan.Plan, ev *plan.Evaluator, d *Delivery) (*Match, error) {
	if WebhookTrigger(p, d.Hook) == nil {
		return nil, nil
	}
	var payload any
	if err := json.Unmarshal(d.Body, &payload); err != nil {
		return nil, fmt.Errorf("webhook %s: the body is not JSON: %w", d.Hook, err)
	}
	return match(p, ev, plan.TriggerWebhook, d.Hook, plan.Vars{"body": payload, "headers": d.Headers})
}

func match(p *plan.Plan, ev *plan.Evaluator, kind plan.TriggerKind, name string, vars plan.Vars) (*Match, error) {
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
			given[k] = plan.JSONValue(v)
		}
		params, err := p.BindParams(given)
		if err != nil {
			return nil, fmt.Errorf("trigger of %s: %w", p.Name, err)
		}
		return &Match{Trigger: t, Params: params}, nil
	}
	return nil, nil
}
