package runbooks_test

import "testing"

// paramsHeader declares params n (int), pause (duration), owners (list of
// strings) and a secret; steps start at line 11.
const paramsHeader = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: t}
spec:
  params:
    - {name: n, type: int, default: 2}
    - {name: pause, type: duration, default: 1m}
    - {name: owners, type: list, items: string, default: [ann]}
  secrets: [HOOK]
  steps:
`

// v11Cases cover the format v1.1 additions.
var v11Cases = []struct {
	name string
	src  string
	want []string
}{
	{"assert", header + "    - {id: a, assert: {that: \"1 + 1\", message: \"bad ${{ run.id }}\"}}\n    - {id: b, assert: {that: \"run.id != ''\", message: \"run ${{ run.id }} has no id\"}}\n", []string{
		"rb.yaml:6:31: spec.steps[0].assert.that: must be a bool, but the expression is int",
	}},
	{"spec vars", `apiVersion: runbook/v1
kind: Runbook
metadata: {name: t}
spec:
  params: [{name: n, type: int, default: 2}]
  vars:
    double: params.n * 2
    label: "'run-' + run.id"
    bad: steps.a.status
    worse: vars.double
  steps:
    - {id: a, action: log, with: {message: "${{ vars.label + string(vars.double) }}"}}
    - {id: b, action: log, with: {message: "${{ vars.double + 'x' }}"}}
    - {id: c, action: log, with: {message: "${{ vars.dubble }}"}}
`, []string{
		"rb.yaml:9:10: spec.vars.bad: spec.vars cannot read steps",
		"rb.yaml:10:12: spec.vars.worse: spec.vars cannot read vars",
		"rb.yaml:13:61: spec.steps[1].with.message: found no matching overload for '_+_' applied to '(int, string)'",
		`rb.yaml:14:54: spec.steps[2].with.message: unknown var "dubble" (did you mean "double"?)`,
	}},
	{"set vars", header + `    - {id: early, action: log, with: {message: "${{ vars.total }}"}}
    - id: count
      set:
        total: "run.version + 1"
        again: "vars.total"
    - {id: late, action: log, with: {message: "${{ string(vars.total) }}"}}
    - {id: again, set: {total: "2"}}
    - {id: maybe, if: "false", set: {later: "'x'"}}
    - {id: use, action: log, with: {message: "${{ vars.later }}"}}
`, []string{
		`rb.yaml:6:58: spec.steps[0].with.message: vars.total is set by step "count": steps.count runs after this step`,
		`rb.yaml:10:22: spec.steps[1].set.again: vars.total is set by this same step (set it in an earlier step)`,
		"rb.yaml:12:25: spec.steps[3].set.total: vars.total is already set at line 9; a var is set in one place",
		`rb.yaml:14:56: warning: spec.steps[5].with.message: vars.later may not be set: step "maybe" may have been skipped or not run; check steps.maybe.status first`,
	}},
	{"duration expressions", paramsHeader + `    - {id: a, sleep: "${{ params.pause + duration('30s') }}"}
    - {id: b, sleep: "${{ params.n }}"}
    - {id: c, sleep: "wait ${{ params.pause }}"}
    - {id: d, waitFor: {event: go, timeout: "${{ string(params.n) + 'm' }}"}}
  schedules:
    - {name: s, cron: "@daily", catchupWindow: "${{ params.pause }}"}
`, []string{
		"rb.yaml:12:27: spec.steps[1].sleep: must be a duration, but the expression is int",
		`rb.yaml:13:22: spec.steps[2].sleep: a duration expression must be one whole template (write "${{ expression }}" and nothing else)`,
		"rb.yaml:16:48: spec.schedules[0].catchupWindow: expressions are not allowed here; give a duration such as 15m",
	}},
	{"compensation", header + `    - id: deploy
      action: shell
      with: {command: [deploy]}
      compensate:
        steps:
          - {id: undo, action: shell, with: {command: [undo, "${{ steps.deploy.outputs.stdout }}"]}}
          - {id: wait, sleep: 10s}
          - {id: check, action: log, with: {message: "${{ steps.undo.outputs.stdout }}"}}
    - {id: next, action: log, with: {message: "${{ steps.undo.outputs.stdout }}"}}
    - id: both
      action: shell
      with: {command: [x]}
      compensate: {action: shell, with: {command: [y]}, steps: [{id: z, sleep: 1s}]}
    - {id: neither, action: shell, with: {command: [x]}, compensate: {}}
`, []string{
		`rb.yaml:14:58: spec.steps[1].with.message: steps.undo is part of the compensation of "deploy" and runs only if that step is undone`,
		"rb.yaml:18:19: spec.steps[2].compensate: compensate takes an action or steps, not both",
		"rb.yaml:19:70: spec.steps[3].compensate: compensate needs an action or steps",
	}},
	{"forEach v1.1", paramsHeader + `    - id: fleet
      forEach: params.owners
      maxConcurrency: "${{ params.n }}"
      maxErrors: 10%
      batchSize: 2
      steps:
        - {id: patch, action: shell, with: {command: [patch, "${{ item }}"]}}
      onError:
        - {id: report, action: log, with: {message: "${{ item }} failed at ${{ error.step }}: ${{ steps.patch.status }}"}}
    - {id: sum, action: log, with: {message: "${{ string(steps.fleet.outputs.failed) }} of ${{ string(size(steps.fleet.outputs.results)) }}"}}
    - id: bad
      forEach: params.owners
      maxConcurrency: "${{ 'many' }}"
      maxErrors: lots
      batchSize: 0
      steps: [{id: x, sleep: 1s}]
    - {id: neg, forEach: "[1]", maxErrors: -1, steps: [{id: y, sleep: 1s}]}
    - {id: stray, sleep: 1s, onError: [{id: w, sleep: 1s}]}
`, []string{
		"rb.yaml:23:28: spec.steps[2].maxConcurrency: must be an int, but the expression is string",
		`rb.yaml:24:18: spec.steps[2].maxErrors: invalid maxErrors "lots" (a count such as 3, a percentage of the items such as 10%, or a ${{ }} expression)`,
		"rb.yaml:25:18: spec.steps[2].batchSize: must be between 1 and 10000, got 0",
		"rb.yaml:27:44: spec.steps[3].maxErrors: maxErrors must be 0 or more, got -1",
		"rb.yaml:28:39: spec.steps[4].onError: onError is only valid on forEach steps, not on a sleep step",
	}},
	{"approval v1.1", paramsHeader + `    - id: resize
      approval:
        approvers: "${{ params.owners }}"
        inputs:
          - {name: size_gb, type: int, min: 1, required: true}
          - {name: size_gb, type: int}
        notify: {url: "${{ secrets.HOOK }}", text: "resize waits for ${{ params.owners.join(', ') }}"}
        remindEvery: 1h
    - {id: apply, action: log, with: {message: "${{ string(steps.resize.outputs.inputs.size_gb + 1) }} by ${{ steps.resize.outputs.approvedBy[0] }}"}}
    - {id: typo, action: log, with: {message: "${{ steps.resize.outputs.inputs.size }}"}}
    - id: bad
      approval:
        approvers: "${{ steps.apply.status }}"
        notify: {url: "${{ secrets.HOOK }}"}
    - {id: nag, approval: {approvers: [ann], remindEvery: 1h}}
`, []string{
		`rb.yaml:16:20: spec.steps[0].approval.inputs[1].name: duplicate input "size_gb" (first declared at line 15)`,
		`rb.yaml:20:79: spec.steps[2].with.message: undefined field 'size'`,
		"rb.yaml:23:25: spec.steps[3].approval.approvers: approvers cannot read steps",
		`rb.yaml:24:17: spec.steps[3].approval.notify: action notify needs input "text"`,
		"rb.yaml:25:59: spec.steps[4].approval.remindEvery: remindEvery repeats the notification; add notify",
	}},
	{"waitFor senders", header + "    - {id: a, waitFor: {event: go, senders: []}}\n    - {id: b, waitFor: {event: go, senders: [ann, ann, \"group:\"]}}\n", []string{
		"rb.yaml:6:45: spec.steps[0].waitFor.senders: senders must name at least one user or group:NAME; leave it out to allow any operator",
		`rb.yaml:7:51: spec.steps[1].waitFor.senders[1]: "ann" is listed twice`,
		"rb.yaml:7:56: spec.steps[1].waitFor.senders[2]: expected a user or group:NAME",
	}},
	{"webhook triggers", `apiVersion: runbook/v1
kind: Runbook
metadata: {name: t}
spec:
  params: [{name: service, type: string, required: true}]
  secrets: [PD_KEY]
  triggers:
    - webhook:
        name: pagerduty
        secret: PD_KEY
        match: "body.event.event_type == 'incident.triggered' && headers['x-pagerduty'] != ''"
        params: {service: "body.event.data.service.summary"}
    - webhook: {name: pagerduty, secret: GH_KEY, params: {service: "headers.host + 1"}}
    - webhook: {name: grafana, secret: PD_KEY}
  steps: [{id: a, sleep: 1s}]
`, []string{
		`rb.yaml:11:74: spec.triggers[0].webhook.match: header "x-pagerduty" is not signed: a trigger may read only the headers in signedHeaders (list it in the trigger's signedHeaders, so the signature covers it)`,
		`rb.yaml:13:23: spec.triggers[1].webhook.name: duplicate webhook "pagerduty"`,
		`rb.yaml:13:42: spec.triggers[1].webhook.secret: secret "GH_KEY" is not declared in spec.secrets (the key is a secret: declare it in spec.secrets)`,
		`rb.yaml:13:77: spec.triggers[1].webhook.params.service: header "host" is not signed: a trigger may read only the headers in signedHeaders (list it in the trigger's signedHeaders, so the signature covers it)`,
		"rb.yaml:13:82: spec.triggers[1].webhook.params.service: found no matching overload for '_+_' applied to '(string, int)'",
		`rb.yaml:14:16: spec.triggers[2].webhook: the trigger does not give required param "service"`,
	}},
	{"exit", header + `    - {id: done, if: "run.trigger == 'schedule'", exit: {message: "nothing to do on ${{ run.trigger }}"}}
    - {id: stop, exit: {}}
    - {id: never, sleep: 1s}
    - id: p
      parallel:
        - {id: x, exit: {}}
        - {id: y, sleep: 1s}
`, []string{
		`rb.yaml:8:7: warning: spec.steps[2]: step "never" never runs: step "stop" before it always exits`,
		"rb.yaml:11:25: spec.steps[3].parallel[0].exit: exit ends the whole run; it is not allowed in a parallel (use if on the steps to skip instead)",
	}},
	{"now and time", header + `    - id: restore
      action: shell
      with: {command: [restore]}
    - id: report
      action: log
      with:
        message: "took ${{ string(steps.restore.endedAt - steps.restore.startedAt) }}, on a ${{ string(now().getDayOfWeek('Europe/Berlin')) }}"
    - {id: weekend, if: "now().getDayOfWeek('Europe/Berlin') in [0, 6] && now() - run.startedAt < duration('1h')", sleep: 1s}
`, nil},
	{"ssh needs known hosts", header + "    - {id: a, action: ssh, with: {host: db1, user: ops, privateKey: k, command: [uptime]}}\n", []string{
		`rb.yaml:6:34: spec.steps[0].with: action ssh needs input "knownHosts"`,
	}},
}

func TestLintV11(t *testing.T) {
	for _, tt := range v11Cases {
		t.Run(tt.name, func(t *testing.T) {
			assertDiags(t, diags(t, tt.src), tt.want)
		})
	}
}
