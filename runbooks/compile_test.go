package runbooks_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/plan"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/runbooks"
)

const releaseSrc = `apiVersion: runbook/v1
kind: Runbook
metadata:
  name: release
  owners: [sre]
  labels: {domain: change}
spec:
  params:
    - {name: service, type: string, required: true}
    - {name: replicas, type: int, default: 2, min: 1, max: 10}
    - {name: hosts, type: list, items: string, default: [a, b]}
  secrets: [TOKEN]
  timeout: 1d12h
  concurrency: {key: "params.service"}
  schedules:
    - {name: nightly, cron: "0 2 * * *", params: {service: api}}
  steps:
    - id: deploy
      action: shell
      with:
        command: [deploy, "${{ params.service }}", "--replicas=${{ params.replicas }}"]
        env: {TOKEN: "${{ secrets.TOKEN }}", MODE: fast}
      retry: {maxAttempts: 4}
      compensate: {action: shell, with: {command: [rollback, "${{ steps.deploy.outputs.stdout }}"]}}
    - id: both
      parallel:
        - {id: wait, sleep: 7d}
        - {id: ok, approval: {approvers: [ann, "group:board"]}}
    - id: each
      forEach: params.hosts
      as: host
      steps:
        - {id: ping, action: tcp.check, with: {host: "${{ host }}", port: 22}}
  outputs:
    code: steps.deploy.outputs.exitCode
`

func TestCompilePlan(t *testing.T) {
	p := mustBuild(t, releaseSrc)
	if p.Version != plan.Version || p.Name != "release" || len(p.Hash) != 64 {
		t.Fatalf("header: %+v", p)
	}
	if got := p.Timeout.D; got != 36*time.Hour {
		t.Errorf("timeout = %v", got)
	}
	if p.Concurrency.OnConflict != "reject" || p.Concurrency.Key.Src != "params.service" {
		t.Errorf("concurrency = %+v", p.Concurrency)
	}
	if s := p.Schedules[0]; s.Timezone != "UTC" || s.Overlap != "skip" || s.Params["service"] != "api" {
		t.Errorf("schedule = %+v", s)
	}
	deploy := p.Step("deploy")
	if deploy.Retry.MaxAttempts != 4 || deploy.Retry.InitialInterval.D != time.Second || deploy.Retry.Backoff != 2 {
		t.Errorf("retry = %+v", deploy.Retry)
	}
	cmd := deploy.With["command"]
	if !cmd.IsList() || !cmd.List[0].IsLiteral() || !cmd.List[1].IsExpr() || !cmd.List[2].IsTemplate() {
		t.Errorf("command value kinds wrong: %s", mustJSON(t, cmd))
	}
	env := deploy.With["env"]
	if !env.IsMap() || env.Map["MODE"].Lit != "fast" || !reflect.DeepEqual(env.Map["TOKEN"].Expr.Secrets, []string{"TOKEN"}) {
		t.Errorf("env = %s", mustJSON(t, env))
	}
	if undo := deploy.Compensate.With["command"].List[1].Expr; !reflect.DeepEqual(undo.Steps, []string{"deploy"}) {
		t.Errorf("compensate deps = %v", undo.Steps)
	}
	if both := p.Step("both"); !both.FailFast || len(both.Steps) != 2 {
		t.Errorf("parallel = %+v", both)
	}
	if ok := p.Step("ok"); ok.Approval.MinApprovals != 1 || ok.Approval.OnTimeout != "reject" {
		t.Errorf("approval = %+v", ok.Approval)
	}
	if each := p.Step("each"); each.As != "host" || each.MaxConcurrency.N != 1 || each.Outputs == nil {
		t.Errorf("forEach = %+v", each)
	}
	if p.Outputs[0].Type.Kind != plan.KindInt {
		t.Errorf("output type = %v", p.Outputs[0].Type)
	}
	if got := p.Step("ping").With["port"]; got.Lit != int64(22) {
		t.Errorf("port literal = %#v", got.Lit)
	}
}

func TestPlanJSONRoundTrip(t *testing.T) {
	p := mustBuild(t, releaseSrc)
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back plan.Plan
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	b2, err := json.Marshal(&back)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != string(b2) {
		t.Errorf("plan changed in a JSON round trip:\n%s\n%s", b, b2)
	}
	if strings.Contains(string(b), "s3cr3t") {
		t.Fatal("impossible: no secret value exists at compile time")
	}
}

func TestHashFollowsContent(t *testing.T) {
	a := mustBuild(t, releaseSrc)
	b := mustBuild(t, releaseSrc)
	c := mustBuild(t, strings.Replace(releaseSrc, "default: 2", "default: 3", 1))
	if a.Hash != b.Hash || a.Hash == c.Hash {
		t.Errorf("hashes: %s %s %s", a.Hash, b.Hash, c.Hash)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const childSrc = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: child}
spec:
  params:
    - {name: db, type: string, required: true}
    - {name: keep, type: int, default: 7}
  steps:
    - {id: dump, action: shell, with: {command: [dump, "${{ params.db }}"]}}
  outputs:
    path: steps.dump.outputs.stdout
    size: steps.dump.outputs.exitCode
`

func buildSet(t *testing.T, srcs ...string) []runbooks.Result {
	t.Helper()
	var ss []runbooks.Source
	for i, s := range srcs {
		ss = append(ss, runbooks.Source{File: []string{"a.yaml", "b.yaml", "c.yaml"}[i], Data: []byte(s)})
	}
	return runbooks.BuildSet(ss, runbooks.Options{Actions: activities.Catalog()})
}

func diagStrings(r runbooks.Result) []string {
	var out []string
	for _, d := range r.Diagnostics {
		out = append(out, d.String())
	}
	return out
}

func TestSubRunbooks(t *testing.T) {
	parent := `apiVersion: runbook/v1
kind: Runbook
metadata: {name: parent}
spec:
  steps:
    - id: backup
      runbook: {name: child, params: {db: main, keep: "3"}}
    - id: use
      action: log
      with: {message: "${{ steps.backup.outputs.path + steps.backup.outputs.size }}"}
    - id: again
      runbook: {name: child, params: {dbb: x}}
`
	// The parent comes first; the set compiles the child before it.
	rs := buildSet(t, parent, childSrc)
	assertDiags(t, diagStrings(rs[0]), []string{
		"a.yaml:7:55: spec.steps[0].runbook.params.keep: expected an integer, got a string",
		"a.yaml:10:54: spec.steps[1].with.message: found no matching overload for '_+_' applied to '(string, int)'",
		`a.yaml:12:38: spec.steps[2].runbook.params: runbook child needs param "db"`,
		`a.yaml:12:39: spec.steps[2].runbook.params.dbb: runbook child has no param "dbb" (did you mean "db"?)`,
	})
	if rs[1].Plan == nil {
		t.Fatalf("child: %v", rs[1].Diagnostics)
	}

	good := strings.Replace(strings.Replace(parent, `keep: "3"`, "keep: 3", 1), "{dbb: x}", "{db: x}", 1)
	good = strings.Replace(good, "steps.backup.outputs.size", "string(steps.backup.outputs.size)", 1)
	rs = buildSet(t, good, childSrc)
	if rs[0].Plan == nil {
		t.Fatalf("parent: %v", rs[0].Diagnostics)
	}
	sub := rs[0].Plan.Step("backup").Runbook
	if sub.Plan == nil || sub.Plan.Name != "child" || sub.Params["keep"].Lit != int64(3) {
		t.Errorf("embedded child plan = %+v", sub)
	}
}

func TestSubRunbookCyclesAndDuplicates(t *testing.T) {
	a := "apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: a}\nspec:\n  steps: [{id: x, runbook: {name: b}}]\n"
	b := "apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: b}\nspec:\n  steps: [{id: y, runbook: {name: a}}]\n"
	self := "apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: a}\nspec:\n  steps: [{id: z, sleep: 1s}]\n"
	rs := buildSet(t, a, b, self)
	var all []string
	for _, r := range rs {
		all = append(all, diagStrings(r)...)
	}
	assertDiags(t, all, []string{
		`a.yaml:5:35: spec.steps[0].runbook.name: runbook "b" has errors; fix them first`,
		"b.yaml:5:35: runbooks run each other in a cycle: a -> b -> a",
		`c.yaml:3:18: metadata.name: runbook "a" is also defined in a.yaml`,
	})
}

func TestBindParams(t *testing.T) {
	p := mustBuild(t, releaseSrc)
	got, err := p.BindParams(map[string]any{"service": "api", "replicas": float64(3)})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"service": "api", "replicas": int64(3), "hosts": []any{"a", "b"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("bound = %#v", got)
	}
	_, err = p.BindParams(map[string]any{"replicas": 11, "hots": []any{}})
	want2 := `invalid params: param "service" is required; param "replicas": 11 is more than max 10; unknown param "hots" (did you mean "hosts"?)`
	if err == nil || err.Error() != want2 {
		t.Errorf("err = %v\nwant %s", err, want2)
	}
	args, err := p.ParseParamArgs([]string{"service=api", "replicas=5", "hosts=x, y"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(args, map[string]any{"service": "api", "replicas": int64(5), "hosts": []any{"x", "y"}}) {
		t.Errorf("args = %#v", args)
	}
	if _, err := p.ParseParamArgs([]string{"replicas=many"}); err == nil {
		t.Error("a non-number int param was accepted")
	}
}

func TestSubRunbooksNestedAnywhere(t *testing.T) {
	// The children are read only inside onError and compensate.steps; the
	// set must still compile them first and see the cycle through them.
	parent := `apiVersion: runbook/v1
kind: Runbook
metadata: {name: parent}
spec:
  steps:
    - id: fleet
      forEach: '["a", "b"]'
      steps:
        - {id: patch, action: shell, with: {command: [patch]}}
      onError:
        - {id: rescue, runbook: {name: child, params: {db: x}}}
    - id: deploy
      action: shell
      with: {command: [deploy]}
      compensate:
        steps:
          - {id: undo, runbook: {name: loop}}
`
	loop := "apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: loop}\nspec:\n  steps:\n    - id: x\n      action: shell\n      with: {command: [x]}\n      compensate:\n        steps: [{id: back, runbook: {name: parent}}]\n"
	rs := buildSet(t, parent, childSrc, loop)
	var all []string
	for _, r := range rs {
		all = append(all, diagStrings(r)...)
	}
	assertDiags(t, all, []string{
		`a.yaml:17:40: spec.steps[1].compensate.steps[0].runbook.name: runbook "loop" has errors; fix them first`,
		"c.yaml:10:44: runbooks run each other in a cycle: parent -> loop -> parent",
	})
	rs = buildSet(t, parent, childSrc, strings.Replace(loop, "name: parent}", "name: child, params: {db: y}}", 1))
	for i, r := range rs {
		if r.Plan == nil {
			t.Errorf("file %d: %v", i, r.Diagnostics)
		}
	}
}

func TestUnknownRunbookSuggestsOne(t *testing.T) {
	parent := "apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: parent}\nspec:\n  steps: [{id: x, runbook: {name: chld}}]\n"
	assertDiags(t, diagStrings(buildSet(t, parent, childSrc)[0]), []string{
		`a.yaml:5:35: spec.steps[0].runbook.name: unknown runbook "chld" (did you mean "child"?)`,
	})
}

// fleetSrc uses every option of forEach, compensation, approvals, vars,
// set, exit and webhook triggers.
const fleetSrc = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: fleet}
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

func TestCompileFleet(t *testing.T) {
	p := mustBuild(t, fleetSrc)
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

func TestEvaluateFleet(t *testing.T) {
	p := mustBuild(t, fleetSrc)
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

const webhookHeader = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: t}
spec:
  params: [{name: service, type: string, required: true}]
  secrets: [PD_KEY]
  steps: [{id: a, sleep: 1s}]
  triggers:
`

func TestCompileSignedHeaders(t *testing.T) {
	p, res, err := runbooks.Build("rb.yaml", []byte(webhookHeader+`    - webhook:
        name: pd
        secret: PD_KEY
        signatureHeader: X-PD-Signature
        signedHeaders: [X-PagerDuty-Version, X-Request-Source]
        params: {service: "headers['x-request-source']"}
`), runbooks.Options{})
	if err != nil {
		t.Fatal(err, res)
	}
	tr := p.Triggers[0]
	if tr.SignatureHeader != "X-PD-Signature" || !reflect.DeepEqual(tr.SignedHeaders, []string{"x-pagerduty-version", "x-request-source"}) {
		t.Errorf("trigger = %+v", tr)
	}
}
