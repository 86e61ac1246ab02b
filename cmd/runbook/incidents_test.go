package main

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

const incidentRunbooks = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: flush-cache}
spec:
  triggers:
    - alertmanager: {match: "alert.labels.alertname == 'CacheHot'"}
  steps:
    - {id: flush, action: log, with: {message: "flushing for incident ${{ run.incident }}"}}
  outputs: {incident: run.incident}
`

// Through the command line: an Alertmanager group opens an incident (its
// service from the label RUNBOOK_INCIDENT_LABELS names) and its run;
// responders list, show, annotate, start a run for it and resolve it.
func TestIncidentCommandLine(t *testing.T) {
	if testing.Short() {
		t.Skip("starts runbook dev")
	}
	dev := startDevProc(t, t.TempDir(), []string{"RUNBOOK_INCIDENT_LABELS=service=labels.team,severity=labels.priority"})
	op, admin := dev.tokens["RUNBOOK_OPERATOR_TOKEN"], dev.tokens["RUNBOOK_ADMIN_TOKEN"]
	mustCall(t, 201, dev.api, admin, "POST", "/api/v1/runbooks", incidentRunbooks, nil)
	var hook struct {
		Runs     []struct{ Run string }
		Incident struct {
			ID      uint
			Outcome string
		}
	}
	alert := map[string]any{"status": "firing", "groupKey": "{}:{alertname=\"CacheHot\"}",
		"commonLabels":      map[string]any{"alertname": "CacheHot", "team": "payments", "priority": "P2"},
		"commonAnnotations": map[string]any{"summary": "cache hit ratio below 50%"},
		"alerts": []any{map[string]any{"status": "firing", "fingerprint": "c1", "startsAt": time.Now().UTC(),
			"labels": map[string]any{"alertname": "CacheHot", "team": "payments", "priority": "P2"}}}}
	mustCall(t, 200, dev.api, op, "POST", "/hooks/alertmanager", alert, &hook)
	if hook.Incident.ID != 1 || hook.Incident.Outcome != "opened" || len(hook.Runs) != 1 {
		t.Fatalf("hook: %+v", hook)
	}
	awaitRun(t, dev.api, op, hook.Runs[0].Run, time.Minute, func(r runAnswer) bool { return r.Status == "succeeded" })

	code, o := cliAt(dev, op, "incidents")
	if code != 0 || !regexp.MustCompile(`(?m)^1\s+mitigating\s+P2\s+payments\s+\S+ \S+\s+\S+\s+-\s+cache hit ratio below 50%$`).MatchString(o) {
		t.Errorf("incidents: %d\n%s", code, o)
	}
	if code, o := cliAt(dev, op, "incident", "note", "1", "flushed by hand"); code != 0 || o != "note added to incident 1\n" {
		t.Errorf("note: %d %s", code, o)
	}
	code, o = cliAt(dev, op, "run", "flush-cache", "--incident", "1", "-q")
	if code != 0 {
		t.Fatalf("run --incident: %d %s", code, o)
	}
	byHand := strings.TrimSpace(o)
	awaitRun(t, dev.api, op, byHand, time.Minute, func(r runAnswer) bool { return r.Status == "succeeded" })
	var outputs struct{ Outputs map[string]any }
	mustCall(t, 200, dev.api, op, "GET", "/api/v1/runs/"+byHand, nil, &outputs)
	if outputs.Outputs["incident"] != float64(1) {
		t.Errorf("run.incident of the run started by hand: %v", outputs.Outputs)
	}
	if code, o := cliAt(dev, op, "incident", "resolve", "1", "--reason", "cache warmed"); code != 0 || o != "incident 1 is resolved\n" {
		t.Errorf("resolve: %d %s", code, o)
	}
	code, o = cliAt(dev, op, "incident", "show", "1")
	for _, re := range []string{`(?m)^incident 1: cache hit ratio below 50%$`, `(?m)^  status\s+resolved$`, `(?m)^  service\s+payments$`,
		`(?m)^  resolved\s+\S+ \S+ by dev-operator$`, `(?m)^  ` + byHand + `\s+flush-cache\s+succeeded\s+by dev-operator$`,
		`(?m)^  \S+ \S+\s+note\s+dev-operator\s+-\s+flushed by hand$`, `(?m)^  \S+ \S+\s+status\s+dev-operator\s+resolved\s+cache warmed$`} {
		if code != 0 || !regexp.MustCompile(re).MatchString(o) {
			t.Errorf("show lacks %s: %d\n%s", re, code, o)
		}
	}
	if code, o := cliAt(dev, op, "incident", "show", "1", "--markdown"); code != 0 || !strings.HasPrefix(o, "# Incident 1: cache hit ratio below 50%\n") || !strings.Contains(o, "| note | dev-operator |  | flushed by hand |") {
		t.Errorf("show --markdown: %d\n%s", code, o)
	}
	if code, o := cliAt(dev, op, "incident", "resolve", "1"); code != 1 || !strings.Contains(o, "the incident is already resolved") {
		t.Errorf("resolve again: %d %s", code, o)
	}
	for _, args := range [][]string{{"incident"}, {"incident", "show"}, {"incident", "show", "abc"}, {"incident", "frob", "1"},
		{"incident", "ack", "1", "--title", "x"}, {"incident", "open"}, {"incident", "note", "1"}, {"incidents", "extra"},
		{"incidents", "--status", "closed"}, {"run", "flush-cache", "--incident", "x"}} {
		if code, o := cliAt(dev, op, args...); code != 2 || !strings.Contains(o, "usage") {
			t.Errorf("runbook %s: %d %s", strings.Join(args, " "), code, o)
		}
	}
}
