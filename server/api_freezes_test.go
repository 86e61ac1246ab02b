package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/opsrunbook/runbook/runbooks"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/workflows"
)

// freezeNow is a freeze whose window covers now, over runbooks labelled
// domain: change, remediations exempt, break-glass by group board.
func freezeNow(name string, breakGlass bool) string {
	now := time.Now().UTC()
	src := fmt.Sprintf(`apiVersion: runbook/v1
kind: Freeze
metadata: {name: %s}
spec:
  reason: Year-end freeze
  windows:
    - {from: "%s", to: "%s"}
  runbooks: {labels: {domain: change}}
  exempt: {labels: {incident: remediation}}
`, name, now.Add(-time.Hour).Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339))
	if breakGlass {
		src += "  breakGlass: {approvers: [\"group:board\"]}\n"
	}
	return src
}

const changeRunbook = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: change, labels: {domain: change}}
spec:
  schedules: [{name: nightly, cron: "0 3 * * *"}]
  triggers:
    - alertmanager: {match: "alert.labels.alertname == 'ChangeNeeded'"}
  steps:
    - {id: apply, action: log, with: {message: applied}}
`

// A freeze over now refuses an API start with 409 naming it and its end;
// with break-glass the run waits for the named group's approval (not the
// starter's), an exempt runbook still runs, a schedule's fire is skipped
// and audited, a frozen sub-runbook fails its step, and lifting the
// freeze lets starts through.
func TestFreezes(t *testing.T) {
	c := temporalStack(t)
	eachStore(t, func(t *testing.T, st *store.Store) {
		a := newTrustAPI(t, c, st)
		a.register(changeRunbook, 201)
		a.register(`apiVersion: runbook/v1
kind: Runbook
metadata: {name: remedy, labels: {domain: change, incident: remediation}}
spec:
  steps:
    - {id: fix, action: log, with: {message: fixed}}
`, 201)
		a.register(`apiVersion: runbook/v1
kind: Runbook
metadata: {name: parent}
spec:
  steps:
    - {id: child, runbook: {name: change}}
`, 201)

		var p Problem
		if got := a.call("POST", "/api/v1/freezes", a.author, strings.Replace(freezeNow("year-end", false), "reason: Year-end freeze", "reason: \" \"", 1), &p); got != 422 ||
			p.Error != "the freeze is invalid" || len(p.Details) != 1 {
			t.Errorf("an invalid freeze: %d %+v", got, p)
		}
		if got := a.call("POST", "/api/v1/freezes", a.ann, freezeNow("year-end", false), &p); got != 403 {
			t.Errorf("an operator registers a freeze: %d", got)
		}
		var fv freezeView
		if got := a.call("POST", "/api/v1/freezes", a.author, freezeNow("year-end", false), &fv); got != 201 || !fv.Active || fv.Until == nil ||
			strings.Join(fv.Holds, ",") != "change" {
			t.Fatalf("register: %d %+v", got, fv)
		}
		until := fv.Until.UTC().Format(time.RFC3339)
		for runbook, want := range map[string]int{"change": 1, "remedy": 0} {
			var list struct {
				Freezes []freezeView `json:"freezes"`
			}
			if got := a.call("GET", "/api/v1/freezes?runbook="+runbook, a.viewer, nil, &list); got != 200 || len(list.Freezes) != want {
				t.Errorf("the freezes of %s: %d %+v", runbook, got, list)
			}
		}
		var pv struct {
			Freezes []runbooks.PreviewFreeze `json:"freezes"`
		}
		if got := a.call("POST", "/api/v1/runbooks/change/plan", a.viewer, map[string]any{}, &pv); got != 200 || len(pv.Freezes) != 1 || !pv.Freezes[0].Active ||
			pv.Freezes[0].To.UTC().Format(time.RFC3339) != until {
			t.Errorf("the preview's freezes: %d %+v", got, pv)
		}

		if got := a.call("POST", "/api/v1/runbooks/change/runs", a.ann, map[string]any{}, &p); got != 409 ||
			p.Error != "runbook change is frozen by freeze year-end until "+until+": Year-end freeze" {
			t.Errorf("a start during the freeze: %d %+v", got, p)
		}
		if got := a.call("POST", "/api/v1/runbooks/change/runs", a.ann, map[string]any{"breakGlass": "hotfix"}, &p); got != 409 {
			t.Errorf("break-glass on a freeze without it: %d %+v", got, p)
		}
		// An alert's match is refused the same way, and audited.
		alert := map[string]any{"status": "firing", "alerts": []any{map[string]any{"status": "firing", "fingerprint": "fz1",
			"startsAt": "2026-12-01T09:00:00Z", "labels": map[string]any{"alertname": "ChangeNeeded"}}}}
		if got := a.call("POST", "/hooks/alertmanager", a.am, alert, nil); got != 200 {
			t.Errorf("alert: %d", got)
		}
		var refused struct {
			Entries []struct{ Outcome, Reason string } `json:"entries"`
		}
		a.call("GET", "/api/v1/audit?runbook=change&action=run.start&actor=alertmanager", a.viewer, nil, &refused)
		if len(refused.Entries) != 1 || refused.Entries[0].Outcome != "refused" || !strings.Contains(refused.Entries[0].Reason, "frozen by freeze year-end") {
			t.Errorf("the alert's start: %+v", refused.Entries)
		}
		var run runView
		if got := a.call("POST", "/api/v1/runbooks/remedy/runs", a.ann, map[string]any{}, &run); got != 201 {
			t.Errorf("an exempt runbook: %d", got)
		}
		if got := a.call("POST", "/api/v1/runbooks/remedy/runs", a.ann, map[string]any{"breakGlass": "x"}, &p); got != 422 ||
			p.Error != "breakGlass: no freeze holds runbook remedy back now" {
			t.Errorf("break-glass without a freeze: %d %+v", got, p)
		}

		// A sub-runbook held back fails its step.
		if got := a.call("POST", "/api/v1/runbooks/parent/runs", a.ann, map[string]any{}, &run); got != 201 {
			t.Fatalf("start parent: %d", got)
		}
		waitFor(t, func() bool {
			a.call("GET", "/api/v1/runs/"+run.ID, a.viewer, nil, &run)
			return run.Status == workflows.RunFailed
		})
		if run.ErrorType != workflows.ErrFrozen || !strings.Contains(run.Error, "runbook change is frozen by freeze year-end until") {
			t.Errorf("the parent: %s %s", run.ErrorType, run.Error)
		}

		// A schedule's own fire is skipped and audited.
		ctx := context.Background()
		h := a.c.ScheduleClient().GetHandle(ctx, ScheduleID("change", "nightly"))
		if err := h.Trigger(ctx, client.ScheduleTriggerOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = h.Delete(ctx) }) // the next store's run makes its own
		var audit struct {
			Entries []struct {
				Actor, Target string
				Detail        json.RawMessage
			} `json:"entries"`
		}
		waitFor(t, func() bool {
			a.api.SyncOnce(ctx)
			a.call("GET", "/api/v1/audit?action=schedule.skip", a.viewer, nil, &audit)
			return len(audit.Entries) == 1
		})
		if e := audit.Entries[0]; e.Actor != SystemSchedule || e.Target != "change/nightly" || !strings.Contains(string(e.Detail), `"freeze":"year-end"`) {
			t.Errorf("the skip: %+v %s", e, e.Detail)
		}
		a.api.SyncOnce(ctx)
		if a.call("GET", "/api/v1/audit?action=schedule.skip", a.viewer, nil, &audit); len(audit.Entries) != 1 {
			t.Errorf("the skip was recorded %d times", len(audit.Entries))
		}
		if runs, _, _ := st.Runs(store.RunFilter{Runbook: "change"}); len(runs) != 0 {
			t.Errorf("the skipped fire made runs: %+v", runs)
		}

		// Break-glass: held for the board's approval, not the starter's.
		if got := a.call("POST", "/api/v1/freezes", a.author, freezeNow("year-end", true), &fv); got != 200 || !*fv.Changed {
			t.Fatalf("replace: %d", got)
		}
		if got := a.call("POST", "/api/v1/freezes", a.author, "kind: Freeze\nmetadata: {name: x", &p); got != 422 || p.Error != "the freeze is invalid" || len(p.Details) != 1 {
			t.Errorf("broken YAML: %d %+v", got, p)
		}
		if got := a.call("POST", "/api/v1/runbooks/change/runs", a.ann, map[string]any{}, &p); got != 409 ||
			!strings.HasSuffix(p.Error, "it allows a break-glass start: give a reason (breakGlass in the body; runbook run or rerun --break-glass REASON) to hold the run for approval by group:board") {
			t.Errorf("no breakGlass given: %d %+v", got, p)
		}
		if got := a.call("POST", "/api/v1/runbooks/change/runs", a.ann, map[string]any{"breakGlass": "hotfix CHG-9"}, &run); got != 201 {
			t.Fatalf("break-glass start: %d", got)
		}
		waitFor(t, func() bool {
			a.call("GET", "/api/v1/runs/"+run.ID, a.viewer, nil, &run)
			return len(run.Steps) > 0 && run.Steps[0].ID == "freeze-year-end" && run.Steps[0].Status == workflows.StatusWaitingApproval
		})
		if !strings.HasPrefix(run.Steps[0].Message, "Break-glass start of change during freeze year-end (until ") || !strings.HasSuffix(run.Steps[0].Message, "asked by ann: hotfix CHG-9") {
			t.Errorf("the exception's message: %q", run.Steps[0].Message)
		}
		if len(run.Exceptions) != 1 || run.Exceptions[0].Freeze != "year-end" || run.Exceptions[0].Why != "hotfix CHG-9" || run.Exceptions[0].AskedBy != "ann" {
			t.Errorf("the run's exceptions: %+v", run.Exceptions)
		}
		if got := a.call("POST", "/api/v1/runs/"+run.ID+"/approvals/freeze-year-end", a.ann, map[string]any{"decision": "approve"}, &p); got != 403 {
			t.Errorf("the starter approves her exception: %d %+v", got, p)
		}
		if got := a.call("POST", "/api/v1/runs/"+run.ID+"/approvals/freeze-year-end", a.bob, map[string]any{"decision": "approve"}, nil); got != 200 {
			t.Fatalf("bob approves: %d", got)
		}
		waitFor(t, func() bool {
			a.call("GET", "/api/v1/runs/"+run.ID, a.viewer, nil, &run)
			return run.Status == workflows.RunSucceeded
		})

		// Lifted: starts go through.
		if got := a.call("DELETE", "/api/v1/freezes/year-end", a.author, nil, nil); got != 200 {
			t.Fatalf("delete: %d", got)
		}
		if got := a.call("DELETE", "/api/v1/freezes/year-end", a.author, nil, &p); got != 404 {
			t.Errorf("delete again: %d", got)
		}
		if got := a.call("POST", "/api/v1/runbooks/change/runs", a.ann, map[string]any{}, &run); got != 201 {
			t.Errorf("a start after the freeze: %d", got)
		}
	})
}
