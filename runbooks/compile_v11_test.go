package runbooks_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/plan"

	"github.com/opsrunbook/runbook/runbooks"
)

const v11Src = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: v11}
spec:
  params:
    - {name: hosts, type: list, items: string, default: [a, b, c]}
    - {name: pause, type: duration, default: 30s}
    - {name: width, type: int, default: 2}
  secrets: [HOOK, GH]
  vars:
    stamp: "run.startedAt.getFullYear() * 100 + run.startedAt.getMonth() + 1"
    first: params.hosts[0]
  triggers:
    - webhook: {name: github, secret: GH, signedHeaders: [X-GitHub-Event], match: "headers['x-github-event'] == 'push'"}
  steps:
    - {id: gate, assert: {that: "size(params.hosts) > 0", message: "no hosts for ${{ vars.first }}"}}
    - id: fleet
      forEach: params.hosts
      as: host
      maxConcurrency: "${{ params.width }}"
      maxErrors: 50%
      batchSize: 2
      steps:
        - id: patch
          action: shell
          with: {command: [patch, "${{ host }}"]}
          compensate:
            steps:
              - {id: unpatch, action: shell, with: {command: [unpatch, "${{ host }}"]}}
              - {id: settle, sleep: "${{ params.pause }}"}
      onError:
        - {id: note, action: log, with: {message: "${{ host }}: ${{ error.message }}"}}
    - {id: tally, set: {failed: "steps.fleet.outputs.failed", ratio: "double(steps.fleet.outputs.failed) / 3.0"}}
    - id: ok
      approval:
        approvers: "${{ params.hosts.map(h, 'group:' + h) }}"
        inputs: [{name: size_gb, type: int, min: 1, default: 10}]
        notify: {url: "${{ secrets.HOOK }}", text: "waiting on ${{ vars.first }}"}
        remindEvery: 1h
        timeout: "${{ params.pause }}"
    - {id: done, if: "vars.failed == 0", exit: {message: "clean run"}}
    - {id: wait, waitFor: {event: go, senders: ["group:oncall"]}}
`

func TestCompileV11(t *testing.T) {
	p := mustBuild(t, v11Src)
	if got := []string{p.Vars[0].Name, p.Vars[0].Type.String(), p.Vars[1].Type.String()}; !reflect.DeepEqual(got, []string{"stamp", "int", "string"}) {
		t.Errorf("vars = %v", got)
	}
	if tr := p.Triggers[0]; tr.Kind != "webhook" || tr.Name != "github" || tr.Secret != "GH" || tr.SignatureHeader != runbooks.DefaultSignatureHeader {
		t.Errorf("trigger = %+v", tr)
	}
	fleet := p.Step("fleet")
	if fleet.MaxConcurrency.Expr == nil || fleet.MaxErrors.Percent != 50 || fleet.BatchSize.N != 2 || fleet.OnError[0].ID != "note" {
		t.Errorf("forEach = %+v", fleet)
	}
	if c := p.Step("patch").Compensate; len(c.Steps) != 2 || c.Steps[1].Sleep.Expr == nil {
		t.Errorf("compensate = %+v", c)
	}
	if p.Step("settle") == nil {
		t.Error("Walk does not reach compensation steps")
	}
	tally := p.Step("tally")
	if tally.Kind != plan.StepSet || tally.Set[0].Type.Kind != plan.KindInt || tally.Set[1].Type.Kind != plan.KindNumber {
		t.Errorf("set = %+v", tally.Set)
	}
	ok := p.Step("ok").Approval
	if ok.ApproversExpr == nil || ok.Inputs[0].Name != "size_gb" || ok.Notify["url"].Expr.Secrets[0] != "HOOK" || ok.RemindEvery.D != time.Hour || ok.Timeout.Expr == nil {
		t.Errorf("approval = %+v", ok)
	}
	if in, _ := p.Step("ok").Outputs.Field("inputs"); in.Type.Fields[0].Type.Kind != plan.KindInt {
		t.Errorf("approval inputs output type = %v", in.Type)
	}
	if w := p.Step("wait").WaitFor; w.Senders[0] != "group:oncall" {
		t.Errorf("waitFor = %+v", w)
	}
	// Expressions in durations and counts survive a JSON round trip.
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back plan.Plan
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Step("settle").Sleep.Expr.Src != "params.pause" || back.Step("fleet").MaxConcurrency.Expr.Src != "params.width" {
		t.Errorf("round trip lost expressions: %s", b)
	}
}

func TestEvaluatorV11(t *testing.T) {
	p := mustBuild(t, v11Src)
	ev, err := plan.NewEvaluator(p)
	if err != nil {
		t.Fatal(err)
	}
	params, _ := p.BindParams(nil)
	start := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	vars := plan.Vars{"params": p.ParamVars(params), "run": map[string]any{"startedAt": start}}
	stamp, err := ev.Eval(p.Vars[0].Expr, vars)
	if err != nil || stamp != int64(202611) {
		t.Errorf("stamp = %v, %v", stamp, err)
	}
	d, err := ev.Duration(p.Step("settle").Sleep, vars)
	if err != nil || d != 30*time.Second {
		t.Errorf("sleep = %v, %v", d, err)
	}
	n, err := ev.Count(p.Step("fleet").MaxConcurrency, vars)
	if err != nil || n != 2 {
		t.Errorf("maxConcurrency = %v, %v", n, err)
	}
	approvers, err := ev.Eval(p.Step("ok").Approval.ApproversExpr, vars)
	if err != nil || !reflect.DeepEqual(approvers, []any{"group:a", "group:b", "group:c"}) {
		t.Errorf("approvers = %v, %v", approvers, err)
	}
	// now() reads the clock the interpreter gives, and nothing else.
	clock := start.Add(90 * time.Minute)
	ev.SetClock(func() time.Time { return clock })
	x := &plan.Expr{Src: "now() - run.startedAt"}
	got, err := ev.Eval(x, vars)
	if err != nil || got != 90*time.Minute {
		t.Errorf("now() - startedAt = %v, %v", got, err)
	}
}
