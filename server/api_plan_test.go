package server

import (
	"testing"

	"github.com/opsrunbook/runbook/runbooks"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/workflows"
)

// A start's preview binds params as a start does; a running run's shows
// the steps that ended as done and renders the next ones with their
// outputs.
func TestPlanPreview(t *testing.T) {
	c := temporalStack(t)
	eachStore(t, func(t *testing.T, st *store.Store) {
		a := newTrustAPI(t, c, st)
		a.register(`apiVersion: runbook/v1
kind: Runbook
metadata: {name: previewed}
spec:
  params:
    - {name: ticket, type: string, required: true, pattern: "^CHG-[0-9]+$"}
    - {name: replicas, type: int, default: 3, min: 1, max: 9}
  steps:
    - {id: find, action: log, with: {message: "scale to ${{ string(params.replicas) }}"}}
    - id: gate
      approval: {approvers: ["group:board"]}
    - {id: apply, action: log, with: {message: "${{ params.ticket }}: ${{ steps.find.outputs.message }}"}}
`, 201)
		type preview struct {
			Version int    `json:"version"`
			Run     string `json:"run"`
			runbooks.Preview
		}
		var pv preview
		if got := a.call("POST", "/api/v1/runbooks/previewed/plan", a.viewer, map[string]any{"params": map[string]any{"ticket": "CHG-7"}}, &pv); got != 200 {
			t.Fatalf("preview: %d", got)
		}
		if pv.Version != 1 || len(pv.Steps) != 3 || pv.Steps[2].Inputs[0].Value != "(at run time, from steps.find)" || pv.Steps[0].Inputs[0].Value != `"scale to 3"` {
			t.Errorf("preview: %+v", pv)
		}
		var p Problem
		if got := a.call("POST", "/api/v1/runbooks/previewed/plan", a.viewer, map[string]any{"params": map[string]any{"ticket": "x", "replicas": 10}}, &p); got != 422 ||
			p.Error != "invalid params" || len(p.Details) != 2 {
			t.Errorf("bad params: %d %+v", got, p)
		}
		if got := a.call("POST", "/api/v1/runbooks/nope/plan", a.viewer, map[string]any{}, &p); got != 404 {
			t.Errorf("unknown runbook: %d", got)
		}

		var run runView
		if got := a.call("POST", "/api/v1/runbooks/previewed/runs", a.ann, map[string]any{"params": map[string]any{"ticket": "CHG-8", "replicas": 5}}, &run); got != 201 {
			t.Fatalf("start: %d", got)
		}
		waitFor(t, func() bool {
			var v runView
			a.call("GET", "/api/v1/runs/"+run.ID, a.viewer, nil, &v)
			return len(v.Steps) > 1 && v.Steps[1].Status == workflows.StatusWaitingApproval
		})
		pv = preview{}
		if got := a.call("GET", "/api/v1/runs/"+run.ID+"/plan", a.viewer, nil, &pv); got != 200 {
			t.Fatalf("run preview: %d", got)
		}
		want := []string{"find done succeeded", "gate run ", "apply run "}
		for i, s := range pv.Steps {
			if i < len(want) && s.ID+" "+s.Decision+" "+s.Reason != want[i] {
				t.Errorf("step %d: %s %s %s, want %s", i, s.ID, s.Decision, s.Reason, want[i])
			}
		}
		if pv.Run != run.ID || len(pv.Steps) != 3 || len(pv.Steps[2].Inputs) != 1 || pv.Steps[2].Inputs[0].Value != `"CHG-8: scale to 5"` {
			t.Errorf("run preview: %+v", pv)
		}
		if got := a.call("POST", "/api/v1/runs/"+run.ID+"/approvals/gate", a.bob, map[string]any{"decision": "reject"}, nil); got != 200 {
			t.Fatalf("vote: %d", got)
		}
		waitFor(t, func() bool {
			return a.call("GET", "/api/v1/runs/"+run.ID+"/plan", a.viewer, nil, &p) == 409
		})
		if p.Error != "run "+run.ID+" has already ended" && p.Error != "run "+run.ID+" has already ended: failed" {
			t.Errorf("ended run: %+v", p)
		}
	})
}
