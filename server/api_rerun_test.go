package server

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opsrunbook/runbook/devserver/devtest"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/workflows"
)

// A release fails at its health check after an approval; resumed from the
// check with the same version and params it needs no approval and reuses
// the deploy (which ran once); with a param changed the approval is asked
// again. A running run cannot be rerun, nor a step after where it stopped.
func TestRerunResumesFromTheFailedStep(t *testing.T) {
	c := temporalStack(t)
	eachStore(t, func(t *testing.T, st *store.Store) {
		a := newTrustAPI(t, c, st)
		dir := t.TempDir()
		ready, deploys := filepath.Join(dir, "ready"), filepath.Join(dir, "deploys")
		release := func(pre, post string) string {
			return `apiVersion: runbook/v1
kind: Runbook
metadata: {name: release}
spec:
  params:
    - {name: version, type: string, default: v1}
  steps:
    - id: gate
      approval: {approvers: ["group:board"]}
    - id: deploy
      action: shell
      with: {script: 'echo "$V" >> "$F"; echo deployed-$V', env: {V: "${{ params.version }}", F: "` + deploys + `"}}
` + pre + `    - id: check
      action: shell
      with: {command: [test, -f, "` + ready + `"]}
    - id: after
      action: log
      with: {message: "${{ steps.deploy.outputs.stdout }}"}
` + post
		}
		a.register(release("", ""), 201)
		var run runView
		if got := a.call("POST", "/api/v1/runbooks/release/runs", a.ann, map[string]any{}, &run); got != 201 {
			t.Fatalf("start: %d", got)
		}
		var p Problem
		if got := a.call("POST", "/api/v1/runs/"+run.ID+"/rerun", a.ann, map[string]any{}, &p); got != 409 ||
			p.Error != "run "+run.ID+" is still running: wait for it to end or cancel it, then rerun it" {
			t.Errorf("rerun of a running run: %d %+v", got, p)
		}
		var v runView
		waitFor(t, func() bool {
			a.call("GET", "/api/v1/runs/"+run.ID, a.viewer, nil, &v)
			return len(v.Steps) > 0 && v.Steps[0].Status == workflows.StatusWaitingApproval
		})
		if got := a.call("POST", "/api/v1/runs/"+run.ID+"/approvals/gate", a.bob, map[string]any{"decision": "approve"}, nil); got != 200 {
			t.Fatalf("vote: %d", got)
		}
		waitFor(t, func() bool {
			a.call("GET", "/api/v1/runs/"+run.ID, a.viewer, nil, &v)
			return workflows.Ended(v.Status)
		})
		if v.Status != workflows.RunFailed || v.FailedStep != "check" {
			t.Fatalf("first run: %s at %s", v.Status, v.FailedStep)
		}

		if got := a.call("POST", "/api/v1/runs/"+run.ID+"/rerun", a.ann, map[string]any{"from": "after"}, &p); got != 422 ||
			len(p.Details) != 1 || !strings.Contains(p.Details[0].(map[string]any)["message"].(string), "step after comes after check, where run "+run.ID+" stopped (failed)") {
			t.Errorf("from after the failure: %d %+v", got, p)
		}
		if got := a.call("POST", "/api/v1/runs/"+run.ID+"/rerun", a.ann, map[string]any{"version": "newest"}, &p); got != 422 || p.Error != "invalid rerun" {
			t.Errorf("bad version: %d %+v", got, p)
		}

		if err := os.WriteFile(ready, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		var re rerunView
		if got := a.call("POST", "/api/v1/runs/"+run.ID+"/rerun", a.ann, map[string]any{"from": "check", "reason": "made it ready"}, &re); got != 201 {
			t.Fatalf("rerun: %d", got)
		}
		if strings.Join(re.Reused, ",") != "gate,deploy" || len(re.RunAgain) != 0 || re.RerunOf != run.ID || re.RerunFrom != "check" {
			t.Errorf("rerun answer: %+v", re)
		}
		var nv runView
		waitFor(t, func() bool {
			a.call("GET", "/api/v1/runs/"+re.ID, a.viewer, nil, &nv)
			return workflows.Ended(nv.Status)
		})
		if nv.Status != workflows.RunSucceeded || nv.RerunOf != run.ID || nv.RerunReason != "made it ready" {
			t.Fatalf("rerun ended %s (%s), record %+v", nv.Status, nv.Error, nv.Run)
		}
		statuses := map[string]string{}
		for _, s := range nv.Steps {
			statuses[s.ID] = s.Status
		}
		if statuses["gate"] != workflows.StatusReused || statuses["deploy"] != workflows.StatusReused || statuses["check"] != workflows.StatusSucceeded {
			t.Errorf("rerun timeline: %v", statuses)
		}
		if b, _ := os.ReadFile(deploys); string(b) != "v1\n" {
			t.Errorf("deploys: %q, want one", b)
		}
		a.call("GET", "/api/v1/runs/"+run.ID, a.viewer, nil, &v)
		if !slices.Equal(v.Reruns, []string{re.ID}) {
			t.Errorf("the first run's reruns: %v", v.Reruns)
		}
		devtest.RecordHistory(t, filepath.Join("..", "workflows", "testdata", "histories", "TestRerunResumesFromTheFailedStep-rerun"), devtest.HistoryJSON(t, c, re.ID), re.ID)
		if es := a.audit(a.viewer, "action=run.rerun&run="+re.ID).Entries; len(es) != 1 || es[0].Actor != "ann" || es[0].Outcome != "ok" {
			t.Errorf("audit: %+v", es)
		}

		// Another version param: the approval is asked again.
		var re2 rerunView
		if got := a.call("POST", "/api/v1/runs/"+run.ID+"/rerun", a.ann, map[string]any{"from": "check", "params": map[string]any{"version": "v2"}}, &re2); got != 201 {
			t.Fatalf("rerun with params: %d", got)
		}
		if strings.Join(re2.RunAgain, ",") != "gate" || strings.Join(re2.Reused, ",") != "deploy" {
			t.Errorf("rerun with params: %+v", re2.Result)
		}
		waitFor(t, func() bool {
			a.call("GET", "/api/v1/runs/"+re2.ID, a.viewer, nil, &nv)
			return len(nv.Steps) > 0 && nv.Steps[0].Status == workflows.StatusWaitingApproval
		})
		a.call("POST", "/api/v1/runs/"+re2.ID+"/cancel", a.ann, nil, nil)

		// The latest version adds pre before check, and post, which reads
		// pre, at the end: resumed at check, post would read a step that
		// never ran; resumed at pre, the new step runs, the changed version
		// asks the approval again, and deploy is still reused.
		a.register(release(`    - id: pre
      action: log
      with: {message: "pre-${{ params.version }}"}
`, `    - id: post
      action: log
      with: {message: "${{ steps.pre.outputs.message }}"}
`), 201)
		if got := a.call("POST", "/api/v1/runs/"+run.ID+"/rerun", a.ann, map[string]any{"from": "check", "version": "latest"}, &p); got != 422 ||
			len(p.Details) != 1 || !strings.HasPrefix(p.Details[0].(map[string]any)["message"].(string), "post reads steps.pre, which run "+run.ID+" has no result for") {
			t.Errorf("latest from check: %d %+v", got, p)
		}
		var re3 rerunView
		if got := a.call("POST", "/api/v1/runs/"+run.ID+"/rerun", a.ann, map[string]any{"from": "pre", "version": "latest"}, &re3); got != 201 {
			t.Fatalf("latest from pre: %d", got)
		}
		if strings.Join(re3.RunAgain, ",") != "gate" || strings.Join(re3.Reused, ",") != "deploy" || len(re3.NotRun) != 0 || re3.Version != 2 {
			t.Errorf("latest from pre: version %d %+v", re3.Version, re3.Result)
		}
		waitFor(t, func() bool {
			a.call("GET", "/api/v1/runs/"+re3.ID, a.viewer, nil, &nv)
			return len(nv.Steps) > 0 && nv.Steps[0].Status == workflows.StatusWaitingApproval
		})
		if got := a.call("POST", "/api/v1/runs/"+re3.ID+"/approvals/gate", a.bob, map[string]any{"decision": "approve"}, nil); got != 200 {
			t.Fatalf("vote on the latest rerun: %d", got)
		}
		waitFor(t, func() bool {
			a.call("GET", "/api/v1/runs/"+re3.ID, a.viewer, nil, &nv)
			return workflows.Ended(nv.Status)
		})
		statuses = map[string]string{}
		outputs := map[string]any{}
		for _, s := range nv.Steps {
			statuses[s.ID] = s.Status
			outputs[s.ID] = s.Outputs["message"]
		}
		if nv.Status != workflows.RunSucceeded || statuses["deploy"] != workflows.StatusReused || statuses["pre"] != workflows.StatusSucceeded ||
			outputs["post"] != "pre-v1" {
			t.Errorf("latest rerun: %s %v %v", nv.Status, statuses, outputs)
		}
		if b, _ := os.ReadFile(deploys); string(b) != "v1\n" {
			t.Errorf("deploys after the latest rerun: %q, want one", b)
		}
	})
}
