package runbooks_test

import (
	"slices"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/plan"
)

func TestOnStepFailureLint(t *testing.T) {
	for _, tt := range []struct {
		name, src string
		want      []string
	}{{
		name: "short and long forms",
		src: header + `    - {id: a, action: log, with: {message: x}, onStepFailure: ask}
    - {id: b, assert: {that: "true"}, onStepFailure: {action: ask, timeout: 4h, deciders: ["group:sre", alice], message: "b failed"}}
    - {id: c, action: log, with: {message: x}, onStepFailure: fail}
`,
	}, {
		name: "unknown action, short and long",
		src: header + `    - {id: a, action: log, with: {message: x}, onStepFailure: asks}
    - {id: b, action: log, with: {message: x}, onStepFailure: {action: retry}}
`,
		want: []string{
			`rb.yaml:6:63: spec.steps[0].onStepFailure: "asks" is not one of ask, fail (did you mean "ask"?)`,
			`rb.yaml:7:72: spec.steps[1].onStepFailure.action: "retry" is not one of ask, fail`,
		},
	}, {
		name: "bad duration, empty deciders, unknown field",
		src: header + `    - {id: a, action: log, with: {message: x}, onStepFailure: {action: ask, timeout: soon, deciders: [], approvers: [bob]}}
`,
		want: []string{
			`rb.yaml:6:86: spec.steps[0].onStepFailure.timeout: invalid duration "soon" (want e.g. 90s, 15m, 2h, 7d, 1d12h)`,
			`rb.yaml:6:102: spec.steps[0].onStepFailure.deciders: deciders must name at least one user or group:NAME; leave it out to let anyone with the operator role decide`,
			`rb.yaml:6:106: spec.steps[0].onStepFailure.approvers: unknown field "approvers"`,
		},
	}, {
		name: "kinds it does not apply to, and where",
		src: header + `    - {id: s, sleep: 1m, onStepFailure: ask}
    - {id: a, action: log, with: {message: x}, continueOnError: true, onStepFailure: ask}
  onFailure:
    - {id: f, action: log, with: {message: x}, onStepFailure: ask}
`,
		want: []string{
			`rb.yaml:6:41: spec.steps[0].onStepFailure: onStepFailure is only valid on action, runbook or assert steps, not on a sleep step`,
			`rb.yaml:7:86: warning: spec.steps[1].onStepFailure: onStepFailure has no effect with continueOnError: the failure is swallowed, nobody is asked`,
			`rb.yaml:9:63: spec.onFailure[0].onStepFailure: onStepFailure is only valid on steps of spec.steps, not in onFailure, finally, onError or compensate.steps`,
		},
	}, {
		name: "notify and remindEvery",
		src: header + `    - id: a
      action: log
      with: {message: x}
      onStepFailure: {action: ask, notify: {url: "${{ secrets.NOPE }}"}, remindEvery: 1h}
    - {id: b, action: log, with: {message: x}, onStepFailure: {action: ask, remindEvery: soon}}
    - {id: c, action: log, with: {message: x}, onStepFailure: {action: fail, notify: {url: "http://x", text: t}}}
`,
		want: []string{
			`rb.yaml:9:44: spec.steps[0].onStepFailure.notify: action notify needs input "text"`,
			`rb.yaml:9:63: spec.steps[0].onStepFailure.notify.url: secret "NOPE" is not declared in spec.secrets`,
			`rb.yaml:10:90: spec.steps[1].onStepFailure.remindEvery: invalid duration "soon" (want e.g. 90s, 15m, 2h, 7d, 1d12h)`,
			`rb.yaml:10:90: spec.steps[1].onStepFailure.remindEvery: remindEvery repeats the notification; add notify`,
			`rb.yaml:11:86: warning: spec.steps[2].onStepFailure.notify: notify has no effect unless action is ask`,
		},
	}, {
		name: "fields of ask on fail",
		src: header + `    - {id: a, action: log, with: {message: x}, onStepFailure: {action: fail, timeout: 1h}}
`,
		want: []string{
			`rb.yaml:6:87: warning: spec.steps[0].onStepFailure.timeout: timeout has no effect unless action is ask`,
		},
	}, {
		name: "spec default",
		src: `apiVersion: runbook/v1
kind: Runbook
metadata: {name: t}
spec:
  onStepFailure: {action: ask, timeout: "${{ params.wait }}", deciders: [""]}
  params: [{name: wait, type: duration, default: 1h}]
  steps:
    - {id: a, action: log, with: {message: x}}
`,
		want: []string{
			`rb.yaml:5:74: spec.onStepFailure.deciders[0]: expected a user or group:NAME`,
		},
	}} {
		t.Run(tt.name, func(t *testing.T) { assertDiags(t, diags(t, tt.src), tt.want) })
	}
}

// spec.onStepFailure is the default of the action, assert and runbook
// steps of spec.steps; a step's own overrides it; continueOnError, other
// kinds and the cleanup sections never ask.
func TestOnStepFailureCompiles(t *testing.T) {
	p := mustBuild(t, `apiVersion: runbook/v1
kind: Runbook
metadata: {name: t}
spec:
  onStepFailure: {action: ask, timeout: 2h, deciders: ["group:sre"], notify: {url: "http://hooks/sre", text: "a step waits"}, remindEvery: 30m}
  steps:
    - {id: a, action: log, with: {message: x}}
    - {id: b, assert: {that: "true"}, onStepFailure: fail}
    - {id: c, sleep: 1s}
    - {id: d, action: log, with: {message: x}, continueOnError: true}
    - id: e
      forEach: '[1, 2]'
      steps:
        - {id: e1, action: log, with: {message: x}, onStepFailure: {action: ask, message: "item ${{ string(item) }}"}}
  finally:
    - {id: z, action: log, with: {message: x}}
`)
	a := p.Step("a").OnStepFailure
	if a == nil || a.Action != plan.FailureAsk || a.Timeout.D != 2*time.Hour || !slices.Equal(a.Deciders, []string{"group:sre"}) ||
		a.Notify["text"] == nil || a.Notify["url"] == nil || a.RemindEvery.D != 30*time.Minute {
		t.Errorf("a = %+v, want spec's", a)
	}
	for _, id := range []string{"b", "c", "d", "e", "z"} {
		if p.Step(id).OnStepFailure != nil {
			t.Errorf("%s asks: %+v", id, p.Step(id).OnStepFailure)
		}
	}
	if e1 := p.Step("e1").OnStepFailure; e1 == nil || e1.Message == nil || len(e1.Deciders) != 0 || !e1.Timeout.IsZero() {
		t.Errorf("e1 = %+v, want its own policy, not merged with spec's", e1)
	}
}
