package runbooks_test

import "testing"

// Each case is a whole runbook; lines are counted from 1 at apiVersion.
// header ends at line 5, so the first step starts at line 6.
var lintCases = []struct {
	name string
	src  string
	want []string
}{
	{"valid minimal", header + "    - {id: a, sleep: 1s}\n", nil},
	{"bad runbook name", "apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: My_Book}\nspec:\n  steps: [{id: a, sleep: 1s}]\n", []string{
		`rb.yaml:3:18: metadata.name: name "My_Book" must be lowercase letters, digits and dashes, start with a letter, at most 63 characters`,
	}},
	{"wrong apiVersion and kind", "apiVersion: runbook/v9\nkind: Job\nmetadata: {name: t}\nspec:\n  steps: [{id: a, sleep: 1s}]\n", []string{
		`rb.yaml:1:13: apiVersion: unsupported apiVersion "runbook/v9" (use runbook/v1)`,
		`rb.yaml:2:7: kind: kind must be Runbook, got "Job"`,
	}},
	{"no steps", "apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: t}\nspec:\n  steps: []\n", []string{
		"rb.yaml:5:10: spec.steps: a runbook needs at least one step",
	}},
	{"duplicate step ids", header + "    - {id: a, sleep: 1s}\n    - {id: a, sleep: 2s}\n", []string{
		`rb.yaml:7:12: spec.steps[1].id: duplicate step id "a" (first used at line 6)`,
	}},
	{"bad step id", header + "    - {id: Deploy-1, sleep: 1s}\n", []string{
		`rb.yaml:6:12: spec.steps[0].id: step id "Deploy-1" must be lowercase letters, digits and underscores, starting with a letter`,
	}},
	{"step without kind", header + "    - {id: a, name: nothing}\n", []string{
		`rb.yaml:6:7: spec.steps[0]: step "a" does nothing; give it one of action, approval, parallel, steps, forEach, runbook, sleep, waitFor, assert, set or exit`,
	}},
	{"step with two kinds", header + "    - {id: a, sleep: 1s, action: log, with: {message: hi}}\n", []string{
		`rb.yaml:6:7: spec.steps[0]: step "a" has action and sleep; a step does exactly one thing`,
	}},
	{"field of another kind", header + "    - id: a\n      sleep: 1s\n      timeout: 5m\n", []string{
		"rb.yaml:8:16: spec.steps[0].timeout: timeout is only valid on action steps, not on a sleep step",
	}},
	{"unknown action", header + "    - {id: a, action: shel, with: {script: ls}}\n", []string{
		`rb.yaml:6:23: spec.steps[0].action: unknown action "shel" (did you mean "shell"?)`,
	}},
	{"unknown with key", header + "    - id: a\n      action: shell\n      with: {script: ls, envv: {A: b}}\n", []string{
		`rb.yaml:8:26: spec.steps[0].with.envv: action shell has no input "envv" (did you mean "env"?)`,
	}},
	{"missing required input", header + "    - id: a\n      action: http.check\n      with: {method: GET}\n", []string{
		`rb.yaml:8:13: spec.steps[0].with: action http.check needs input "url"`,
	}},
	{"exactly one of", header + "    - id: a\n      action: shell\n      with: {script: ls, command: [ls]}\n", []string{
		"rb.yaml:8:13: spec.steps[0].with: action shell needs exactly one of command, script, got 2",
	}},
	{"literal type mismatch", header + "    - id: a\n      action: tcp.check\n      with: {host: db, port: \"5432\"}\n", []string{
		"rb.yaml:8:30: spec.steps[0].with.port: expected an integer, got a string",
	}},
	{"literal list item mismatch", header + "    - id: a\n      action: shell\n      with: {command: [ls, 3, {a: b}]}\n", []string{
		"rb.yaml:8:28: spec.steps[0].with.command[1]: expected a string, got an integer",
		"rb.yaml:8:31: spec.steps[0].with.command[2]: expected a string, got a mapping",
	}},
	{"input enum", header + "    - id: a\n      action: http.request\n      with: {url: 'http://x', method: FETCH}\n", []string{
		`rb.yaml:8:39: spec.steps[0].with.method: "FETCH" is not one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS (did you mean "PATCH"?)`,
	}},
	{"bad durations", header + "    - id: a\n      action: log\n      with: {message: hi}\n      timeout: 5 minutes\n    - {id: b, sleep: 0s}\n    - {id: c, sleep: -1m}\n", []string{
		`rb.yaml:9:16: spec.steps[0].timeout: invalid duration "5 minutes" (want e.g. 90s, 15m, 2h, 7d, 1d12h)`,
		"rb.yaml:10:22: spec.steps[1].sleep: duration must be positive, got 0s",
		"rb.yaml:11:22: spec.steps[2].sleep: duration must be positive, got -1m",
	}},
	{"nonRetryable error types", header + "    - id: a\n      action: shell\n      with: {command: [x]}\n      retry: {maxAttempts: 2, nonRetryable: [ShellExit, ShellExitError, BadInput, HTTPStatusError, shellexiterror, \"\"]}\n", []string{
		`rb.yaml:9:46: spec.steps[0].retry.nonRetryable[0]: action shell does not fail with error type "ShellExit"; it fails with ShellExitError, BadOutput, BadInput, SecretNotFound, SecretSourceError, Panic (did you mean "ShellExitError"?)`,
		`rb.yaml:9:83: spec.steps[0].retry.nonRetryable[3]: action shell does not fail with error type "HTTPStatusError"; it fails with ShellExitError, BadOutput, BadInput, SecretNotFound, SecretSourceError, Panic`,
		`rb.yaml:9:100: spec.steps[0].retry.nonRetryable[4]: action shell does not fail with error type "shellexiterror"; it fails with ShellExitError, BadOutput, BadInput, SecretNotFound, SecretSourceError, Panic (did you mean "ShellExitError"?)`,
		"rb.yaml:9:116: spec.steps[0].retry.nonRetryable[5]: error type must not be empty",
	}},
	{"nonRetryable of an unknown action is not checked", header + "    - id: a\n      action: shel\n      retry: {nonRetryable: [Whatever]}\n", []string{
		`rb.yaml:7:15: spec.steps[0].action: unknown action "shel" (did you mean "shell"?)`,
	}},
	{"forEach body checked despite the loop's own errors", header + `    - id: loop
      forEach: '"x"'
      as: params
      steps:
        - {id: d, action: log, with: {message: "${{ params.zzz }}"}}
    - id: loop2
      forEach: '[1]'
      as: Bad-Name
      steps:
        - {id: e, action: log, with: {mesage: "x"}}
`, []string{
		"rb.yaml:7:17: spec.steps[0].forEach: must be a list, but the expression is string",
		`rb.yaml:8:11: spec.steps[0].as: loop variable "params" shadows the reserved name params`,
		`rb.yaml:10:60: spec.steps[0].steps[0].with.message: unknown param "zzz"`,
		`rb.yaml:13:11: spec.steps[1].as: loop variable "Bad-Name" must be lowercase letters, digits and underscores, starting with a letter`,
		`rb.yaml:15:38: spec.steps[1].steps[0].with: action log needs input "message"`,
		`rb.yaml:15:39: spec.steps[1].steps[0].with.mesage: action log has no input "mesage" (did you mean "message"?)`,
	}},
	{"inputs of an unknown action or input still checked", header + `    - {id: a, action: shel, with: {command: ["${{ params.nope }}"]}}
    - {id: b, action: log, with: {message: "${{ steps.a.outputs.stdout + params.q }}", colour: "${{ params.r }}"}}
    - {id: c, action: shell, with: {command: [x]}, compensate: {action: undo, with: {x: "${{ params.s }}"}}}
`, []string{
		`rb.yaml:6:23: spec.steps[0].action: unknown action "shel" (did you mean "shell"?)`,
		`rb.yaml:6:58: spec.steps[0].with.command[0]: unknown param "nope"`,
		`rb.yaml:7:81: spec.steps[1].with.message: unknown param "q"`,
		`rb.yaml:7:88: spec.steps[1].with.colour: action log has no input "colour"`,
		`rb.yaml:7:108: spec.steps[1].with.colour: unknown param "r"`,
		`rb.yaml:8:73: spec.steps[2].compensate.action: unknown action "undo" (runbook actions lists them)`,
		`rb.yaml:8:101: spec.steps[2].compensate.with.x: unknown param "s"`,
	}},
	{"a wrong kind is one error", header + "    - {id: a, approval: {approvers: [a, b], minApprovals: \"one\"}}\n    - {id: b, action: log, with: {message: hi}, retry: {maxAttempts: many, backoff: fast}}\n", []string{
		`rb.yaml:6:59: spec.steps[0].approval.minApprovals: expected an integer, got a string`,
		`rb.yaml:7:70: spec.steps[1].retry.maxAttempts: expected an integer, got a string`,
		`rb.yaml:7:85: spec.steps[1].retry.backoff: expected a number, got a string`,
	}},
	{"did you mean an action or a runbook", header + "    - {id: a, action: request}\n    - {id: b, action: http_check, with: {url: x}}\n    - {id: c, runbook: {name: nightly}}\n", []string{
		`rb.yaml:6:23: spec.steps[0].action: unknown action "request" (did you mean "http.request"?)`,
		`rb.yaml:7:23: spec.steps[1].action: unknown action "http_check" (did you mean "http.check"?)`,
		`rb.yaml:8:31: spec.steps[2].runbook.name: unknown runbook "nightly" (register it first, or validate it together with this file)`,
	}},
	{"optional values without a default", "apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: t}\nspec:\n  params:\n    - {name: tag, type: string}\n    - {name: n, type: int, default: 1}\n  steps:\n" + `    - {id: a, action: log, with: {message: "${{ params.tag }}"}}
    - {id: b, action: log, if: "has(params.tag) && params.tag != ''", with: {message: "${{ has(params.tag) ? params.tag : 'none' }}"}}
    - {id: c, action: log, if: "!has(params.tag) || params.tag == 'x'", with: {message: "${{ params.?tag.orValue('none') + string(params.n) }}"}}
    - {id: d, action: log, if: "params.tag == 'x' || has(params.tag)", with: {message: hi}}
    - id: gate
      approval:
        approvers: [alice]
        inputs: [{name: size, type: int}, {name: note, type: string, default: ""}]
    - {id: e, action: log, with: {message: "${{ string(steps.gate.outputs.inputs.size) + steps.gate.outputs.inputs.note }}"}}
    - {id: f, action: log, with: {message: "${{ has(steps.gate.outputs.inputs.size) ? string(steps.gate.outputs.inputs.size) : '' }}"}}
    - id: g
      if: "has(params.tag) && has(steps.gate.outputs.inputs.size)"
      steps:
        - {id: h, action: log, with: {message: "${{ params.tag + string(steps.gate.outputs.inputs.size) }}"}}
`, []string{
		`rb.yaml:9:56: spec.steps[0].with.message: param "tag" is optional and has no default, so a run may not have it (give it a default, or read it where has(params.tag) holds, or as params.?tag.orValue(...))`,
		`rb.yaml:12:40: spec.steps[3].if: param "tag" is optional and has no default, so a run may not have it (give it a default, or read it where has(params.tag) holds, or as params.?tag.orValue(...))`,
		`rb.yaml:17:82: spec.steps[5].with.message: approval input "size" is optional and has no default, so a vote may not have it (give it a default, or read it where has(steps.gate.outputs.inputs.size) holds)`,
	}},
	{"retry bounds", header + "    - id: a\n      action: log\n      with: {message: hi}\n      retry: {maxAttempts: 0, backoff: 0.5, initialInterval: 10s, maxInterval: 1s}\n", []string{
		"rb.yaml:9:28: spec.steps[0].retry.maxAttempts: maxAttempts must be at least 1, got 0",
		"rb.yaml:9:40: spec.steps[0].retry.backoff: backoff must be at least 1, got 0.5",
		"rb.yaml:9:80: spec.steps[0].retry.maxInterval: maxInterval 1s is less than initialInterval 10s",
	}},
	{"approval rules", header + "    - id: a\n      approval: {approvers: [], minApprovals: 0}\n    - id: b\n      approval: {approvers: [ann, ann], onTimeout: escalate, timeout: 1h}\n    - id: c\n      approval: {approvers: [ann, bob], minApprovals: 3}\n", []string{
		"rb.yaml:7:29: spec.steps[0].approval.approvers: approvers must name at least one user or group:NAME",
		"rb.yaml:7:47: spec.steps[0].approval.minApprovals: minApprovals must be at least 1, got 0",
		`rb.yaml:9:35: spec.steps[1].approval.approvers[1]: "ann" is listed twice`,
		"rb.yaml:9:52: spec.steps[1].approval.onTimeout: onTimeout escalate needs escalateTo",
		"rb.yaml:11:55: spec.steps[2].approval.minApprovals: minApprovals is 3 but only 2 approvers are listed",
	}},
	{"param rules", `apiVersion: runbook/v1
kind: Runbook
metadata: {name: t}
spec:
  params:
    - {name: Service, type: string}
    - {name: n, type: int, default: 0, min: 1}
    - {name: n, type: int}
    - {name: mode, type: string, enum: [a, b], default: c}
    - {name: host, type: string, pattern: "^[a-z+$"}
    - {name: tags, type: string, items: string}
    - {name: ratio, type: bool, min: 1}
    - {name: wait, type: duration, default: 5 mins}
    - {name: hosts, type: list, items: string, pattern: "^h[0-9]$", default: [h1, web]}
  steps: [{id: a, sleep: 1s}]
`, []string{
		`rb.yaml:6:14: spec.params[0].name: param name "Service" must be lowercase letters, digits and underscores, starting with a letter`,
		"rb.yaml:7:37: spec.params[1].default: default 0 is less than min 1",
		`rb.yaml:8:14: spec.params[2].name: duplicate param "n" (first declared at line 7)`,
		`rb.yaml:9:57: spec.params[3].default: default "c" is not one of "a", "b"`,
		"rb.yaml:10:43: spec.params[4].pattern: invalid RE2 pattern: missing closing ]: `[a-z+$`",
		"rb.yaml:11:41: spec.params[5].items: items is only valid for list params",
		"rb.yaml:12:38: spec.params[6].min: min is only valid for int and number params",
		`rb.yaml:13:45: spec.params[7].default: invalid duration "5 mins" (want e.g. 90s, 15m, 2h, 7d, 1d12h)`,
		`rb.yaml:14:78: spec.params[8].default: default item 1: "web" does not match pattern ^h[0-9]$`,
	}},
	{"secrets", `apiVersion: runbook/v1
kind: Runbook
metadata: {name: t}
spec:
  secrets: [pg_dsn, TOKEN, TOKEN]
  steps:
    - id: a
      if: secrets.TOKEN != ''
      action: notify
      with:
        url: "${{ secrets.SLACK }}"
        text: "${{ secrets }}"
`, []string{
		`rb.yaml:5:13: spec.secrets[0]: secret name "pg_dsn" must be uppercase letters, digits and underscores, starting with a letter`,
		`rb.yaml:5:28: spec.secrets[2]: duplicate secret "TOKEN"`,
		"rb.yaml:8:11: spec.steps[0].if: secrets can only be read inside action with templates, not in if (pass the secret to an action input, where it is resolved inside the worker)",
		`rb.yaml:11:27: spec.steps[0].with.url: secret "SLACK" is not declared in spec.secrets`,
		"rb.yaml:12:20: spec.steps[0].with.text: read one secret at a time, as secrets.NAME",
	}},
	{"schedules", `apiVersion: runbook/v1
kind: Runbook
metadata: {name: t}
spec:
  params:
    - {name: target, type: string, required: true}
    - {name: keep, type: int, default: 7, min: 1}
  schedules:
    - {name: nightly, cron: "0 2 * * *", timezone: Europe/Berlin, params: {target: db}}
    - {name: nightly, cron: "0 26 * * *", timezone: Mars/Base, params: {target: db, keep: 0}}
    - {name: hourly, cron: "@hourly", params: {tagret: db}, overlap: skip-all, catchupWindow: 0s}
    - {name: zoned, cron: "CRON_TZ=UTC 0 1 * * *", params: {target: "${{ 'x' }}"}}
  steps: [{id: a, sleep: 1s}]
`, []string{
		`rb.yaml:10:14: spec.schedules[1].name: duplicate schedule "nightly"`,
		`rb.yaml:10:29: spec.schedules[1].cron: invalid cron "0 26 * * *": end of range (26) above maximum (23): 26 (five fields "minute hour day-of-month month day-of-week", or @hourly, @daily, @weekly, @monthly, @every 1h)`,
		`rb.yaml:10:53: spec.schedules[1].timezone: unknown time zone "Mars/Base" (an IANA name such as Europe/Berlin or America/New_York)`,
		"rb.yaml:10:91: spec.schedules[1].params.keep: 0 is less than min 1",
		`rb.yaml:11:47: spec.schedules[2]: schedule "hourly" does not give required param "target"`,
		`rb.yaml:11:48: spec.schedules[2].params.tagret: unknown param "tagret" (did you mean "target"?)`,
		`rb.yaml:11:70: spec.schedules[2].overlap: "skip-all" is not one of skip, buffer-one, buffer-all, cancel-other, terminate-other, allow-all`,
		"rb.yaml:11:95: spec.schedules[2].catchupWindow: duration must be positive, got 0s",
		"rb.yaml:12:27: spec.schedules[3].cron: time zone prefixes are not allowed in cron (use the timezone field)",
		"rb.yaml:12:69: spec.schedules[3].params.target: expressions are not allowed here; give a literal value",
	}},
	{"triggers", `apiVersion: runbook/v1
kind: Runbook
metadata: {name: t}
spec:
  params:
    - {name: service, type: string, required: true}
    - {name: replicas, type: int, default: 1}
  triggers:
    - alertmanager:
        match: "alert.labels.alertname"
        params: {service: "alert.labels.service", replicas: "alert.labels.count", zone: "alert.labels.zone"}
    - alertmanager:
        match: "params.service == 'x'"
    - {}
  steps: [{id: a, sleep: 1s}]
`, []string{
		"rb.yaml:10:17: spec.triggers[0].alertmanager.match: must be a bool, but the expression is string",
		"rb.yaml:11:62: spec.triggers[0].alertmanager.params.replicas: must be an int, but the expression is string",
		`rb.yaml:11:83: spec.triggers[0].alertmanager.params.zone: unknown param "zone"`,
		`rb.yaml:13:9: spec.triggers[1].alertmanager: the trigger does not give required param "service"`,
		`rb.yaml:13:17: spec.triggers[1].alertmanager.match: undeclared reference to 'params'`,
		"rb.yaml:14:7: spec.triggers[2]: trigger has no kind; set alertmanager or webhook",
	}},
	{"forEach rules", header + `    - id: a
      forEach: "['x', 'y']"
      as: run
      steps: [{id: b, sleep: 1s}]
    - id: c
      forEach: "[1, 2]"
      maxConcurrency: 0
      steps:
        - id: d
          forEach: "[3]"
          steps: [{id: e, sleep: 1s}]
    - id: f
      forEach: "'abc'"
      steps: [{id: g, sleep: 1s}]
`, []string{
		`rb.yaml:8:11: spec.steps[0].as: loop variable "run" shadows the reserved name run`,
		"rb.yaml:12:23: spec.steps[1].maxConcurrency: must be between 1 and 100, got 0",
		`rb.yaml:15:20: spec.steps[1].steps[0].as: loop variable "item" shadows the enclosing forEach's (name it with as)`,
		"rb.yaml:18:17: spec.steps[2].forEach: must be a list, but the expression is string",
	}},
	{"sub-runbook unknown", header + "    - {id: a, runbook: {name: backup}}\n", []string{
		`rb.yaml:6:31: spec.steps[0].runbook.name: unknown runbook "backup" (register it first, or validate it together with this file)`,
	}},
	{"waitFor rules", header + "    - {id: a, waitFor: {event: 'Go Now', onTimeout: continue}}\n", []string{
		`rb.yaml:6:32: spec.steps[0].waitFor.event: event name "Go Now" must be lowercase letters, digits, dashes and underscores, starting with a letter`,
		"rb.yaml:6:53: warning: spec.steps[0].waitFor.onTimeout: onTimeout has no effect without a timeout",
	}},
	{"outputs", header + "    - {id: a, action: shell, with: {script: ls}}\n  outputs:\n    Code: steps.a.outputs.exitCode\n    out: steps.a.outputs.stdout + 1\n", []string{
		`rb.yaml:8:5: spec.outputs.Code: output name "Code" must be lowercase letters, digits and underscores, starting with a letter`,
		`rb.yaml:9:33: spec.outputs.out: found no matching overload for '_+_' applied to '(string, int)'`,
	}},
}

func TestLint(t *testing.T) {
	for _, tt := range lintCases {
		t.Run(tt.name, func(t *testing.T) {
			assertDiags(t, diags(t, tt.src), tt.want)
		})
	}
}
