package runbooks_test

import "testing"

// exprCases cover the expression rules: syntax, references, types, scope
// and which steps are certain to have finished.
var exprCases = []struct {
	name string
	src  string
	want []string
}{
	{"syntax error", header + "    - {id: a, sleep: 1s, if: \"1 +\"}\n", []string{
		"rb.yaml:6:34: spec.steps[0].if: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}",
	}},
	{"unknown variable", header + "    - {id: a, sleep: 1s, if: \"parms.x\"}\n", []string{
		"rb.yaml:6:31: spec.steps[0].if: undeclared reference to 'parms'",
	}},
	{"unknown param", "apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: t}\nspec:\n  params: [{name: service, type: string}]\n  steps:\n    - {id: a, sleep: 1s, if: \"params.servce == 'x'\"}\n", []string{
		`rb.yaml:7:38: spec.steps[0].if: unknown param "servce" (did you mean "service"?)`,
	}},
	{"condition not bool", header + "    - {id: a, sleep: 1s, if: \"'yes'\"}\n", []string{
		"rb.yaml:6:31: spec.steps[0].if: must be a bool, but the expression is string",
	}},
	{"unknown step", header + "    - {id: build, sleep: 1s}\n    - {id: b, sleep: 1s, if: \"steps.buidl.status == 'succeeded'\"}\n", []string{
		`rb.yaml:7:37: spec.steps[1].if: unknown step "buidl" (did you mean "build"?)`,
	}},
	{"unknown output", header + "    - {id: a, action: shell, with: {script: ls}}\n    - {id: b, sleep: 1s, if: \"steps.a.outputs.exit_code == 0\"}\n", []string{
		`rb.yaml:7:47: spec.steps[1].if: step "a" (action shell) has no output "exit_code" (did you mean "exitCode"?)`,
	}},
	{"unknown step field", header + "    - {id: a, sleep: 1s}\n    - {id: b, sleep: 1s, if: \"steps.a.state == 'x'\"}\n", []string{
		`rb.yaml:7:39: spec.steps[1].if: steps.a has no field "state" (did you mean "status"?)`,
	}},
	{"output type mismatch", header + "    - {id: a, action: shell, with: {script: ls}}\n    - {id: b, sleep: 1s, if: \"steps.a.outputs.exitCode == 'zero'\"}\n", []string{
		"rb.yaml:7:56: spec.steps[1].if: found no matching overload for '_==_' applied to '(int, string)'",
	}},
	{"later step", header + "    - {id: a, sleep: 1s, if: \"steps.b.status == 'succeeded'\"}\n    - {id: b, sleep: 1s}\n", []string{
		"rb.yaml:6:37: spec.steps[0].if: steps.b runs after this step",
	}},
	{"own outputs", header + "    - {id: a, action: log, with: {message: \"${{ steps.a.outputs.message }}\"}}\n", []string{
		`rb.yaml:6:55: spec.steps[0].with.message: step "a" cannot read its own outputs here`,
	}},
	{"parallel sibling", header + `    - id: p
      parallel:
        - {id: a, action: log, with: {message: hi}}
        - {id: b, action: log, with: {message: "${{ steps.a.outputs.message }}"}}
    - {id: c, action: log, with: {message: "${{ steps.a.outputs.message }} ${{ steps.b.outputs.message }}"}}
`, []string{
		`rb.yaml:9:59: spec.steps[0].parallel[1].with.message: steps.a runs in parallel with this step (both are in parallel "p")`,
	}},
	{"other branch nested", header + `    - id: p
      parallel:
        - id: g
          steps:
            - {id: a, sleep: 1s}
        - id: h
          steps:
            - {id: b, sleep: 1s, if: "steps.a.status == 'ok'"}
`, []string{
		`rb.yaml:13:45: spec.steps[0].parallel[1].steps[0].if: steps.a runs in parallel with this step (both are in parallel "p")`,
	}},
	{"enclosing group", header + "    - id: g\n      steps:\n        - {id: a, sleep: 1s, if: \"steps.g.status == 'running'\"}\n", []string{
		"rb.yaml:8:41: spec.steps[0].steps[0].if: steps.g encloses this step and has not finished yet",
	}},
	{"inside a loop", header + `    - id: l
      forEach: "[1, 2]"
      steps:
        - {id: a, action: log, with: {message: "${{ string(item) }}"}}
        - {id: b, action: log, with: {message: "${{ steps.a.outputs.message }}"}}
    - {id: c, action: log, with: {message: "${{ steps.a.outputs.message }}"}}
    - {id: d, action: log, with: {message: "${{ string(item) }}"}}
`, []string{
		`rb.yaml:11:55: spec.steps[1].with.message: steps.a is inside forEach "l" and runs once per item; read steps.l.outputs.results instead`,
		"rb.yaml:12:56: spec.steps[2].with.message: undeclared reference to 'item'",
	}},
	{"loop variable typed", header + `    - id: l
      forEach: "[1, 2]"
      as: n
      steps:
        - {id: a, action: log, with: {message: "${{ n + 'x' }}"}}
`, []string{
		"rb.yaml:10:55: spec.steps[0].steps[0].with.message: found no matching overload for '_+_' applied to '(int, string)'",
	}},
	{"maybe skipped warns", header + "    - {id: a, action: shell, with: {script: ls}, if: \"1 == 2\"}\n    - {id: b, action: log, with: {message: \"${{ steps.a.outputs.stdout }}\"}}\n    - {id: c, sleep: 1s, if: \"steps.a.status == 'skipped'\"}\n", []string{
		"rb.yaml:7:55: warning: spec.steps[1].with.message: steps.a may have been skipped or failed, so its outputs may be missing; check steps.a.status first",
	}},
	{"a status check silences the warning", header + "    - {id: a, action: shell, with: {script: ls}, if: \"1 == 2\"}\n    - {id: b, if: \"steps.a.status == 'succeeded'\", action: log, with: {message: \"${{ steps.a.outputs.stdout }}\"}}\n    - {id: c, sleep: 1s, if: \"steps.a.status == 'succeeded' && steps.a.outputs.exitCode == 0\"}\n", nil},
	{"unknown output lists outputs", header + "    - {id: a, action: shell, with: {script: ls}}\n    - {id: b, sleep: 1s, if: \"steps.a.outputs.banana == 0\"}\n", []string{
		`rb.yaml:7:47: spec.steps[1].if: step "a" (action shell) has no output "banana" (outputs: exitCode, stdout, stderr, json)`,
	}},
	{"inside skipped group warns", header + "    - id: g\n      if: \"false\"\n      steps: [{id: a, action: shell, with: {script: ls}}]\n    - {id: b, action: log, with: {message: \"${{ steps.a.outputs.stdout }}\"}}\n", []string{
		"rb.yaml:9:55: warning: spec.steps[1].with.message: steps.a may have been skipped or failed, so its outputs may be missing; check steps.a.status first",
	}},
	{"finally reads status freely, outputs with a warning", header + "    - {id: a, action: shell, with: {script: ls}}\n  finally:\n    - {id: b, action: log, with: {message: \"${{ steps.a.status }}\"}}\n    - {id: c, action: log, with: {message: \"${{ steps.a.outputs.stdout }}\"}}\n", []string{
		"rb.yaml:9:55: warning: spec.finally[1].with.message: steps.a may not have run when finally runs; check steps.a.status first",
	}},
	{"error only in onFailure", header + "    - {id: a, action: log, with: {message: \"${{ error.message }}\"}}\n  onFailure:\n    - {id: b, action: log, with: {message: \"${{ error.step + ': ' + error.message }}\"}}\n", []string{
		"rb.yaml:6:49: spec.steps[0].with.message: undeclared reference to 'error'",
	}},
	{"onFailure step from main", header + "    - {id: a, action: log, with: {message: \"${{ steps.b.outputs.message }}\"}}\n  onFailure:\n    - {id: b, action: log, with: {message: x}}\n", []string{
		"rb.yaml:6:55: spec.steps[0].with.message: steps.b runs in spec.onFailure, not before this step",
	}},
	{"repeat until reads outputs", header + "    - id: a\n      action: http.check\n      with: {url: 'http://127.0.0.1:1'}\n      repeat: {until: \"outputs.healthy && outputs.status == '200'\"}\n", []string{
		"rb.yaml:9:58: spec.steps[0].repeat.until: found no matching overload for '_==_' applied to '(int, string)'",
	}},
	{"compensate reads own outputs", header + "    - id: a\n      action: shell\n      with: {script: deploy}\n      compensate: {action: shell, with: {command: [\"undo\", \"${{ steps.a.outputs.stdout }}\"]}}\n", nil},
	{"concurrency key reads no steps", header + "    - {id: a, sleep: 1s}\n  concurrency: {key: \"steps.a.status\"}\n", []string{
		"rb.yaml:7:23: spec.concurrency.key: concurrency.key cannot read steps",
	}},
	{"interpolating a list", header + "    - {id: a, action: log, with: {message: \"hosts: ${{ [1, 2] }}\"}}\n", []string{
		"rb.yaml:6:56: spec.steps[0].with.message: cannot put list<int> into text (use json(), or make the template the whole value)",
	}},
	{"interpolating a list of strings", header + "    - {id: a, action: log, with: {message: \"hosts: ${{ ['a'] }}\"}}\n", []string{
		"rb.yaml:6:56: spec.steps[0].with.message: cannot put list<string> into text (use join() or json(), or make the template the whole value)",
	}},
	{"interpolating a map", header + "    - {id: a, action: log, with: {message: \"labels: ${{ {'a': 1} }}\"}}\n", []string{
		"rb.yaml:6:57: spec.steps[0].with.message: cannot put map<string, int> into text (use json(), or make the template the whole value)",
	}},
	{"json renders anything", header + "    - {id: a, action: log, with: {message: \"labels: ${{ json({'a': [1, 2]}) }} ${{ json(params) }}\"}}\n", nil},
	{"bare CEL in a template", header + "    - id: a\n      if: \"${{ params.nope == 'x' }}\"\n      sleep: 1s\n    - id: b\n      assert: {that: '${{ true }}'}\n", []string{
		"rb.yaml:7:12: spec.steps[0].if: `if` is bare CEL: drop `${{ }}`",
		`rb.yaml:7:23: spec.steps[0].if: unknown param "nope"`,
		"rb.yaml:10:23: spec.steps[1].assert.that: `assert.that` is bare CEL: drop `${{ }}`",
	}},
	{"folded and literal expressions", header + "    - id: a\n      if: >-\n        1 == 1 &&\n        params.nope == 'y'\n      action: log\n      with:\n        message: |\n          hello ${{ 1 }}\n            and ${{ params.qq }}\n", []string{
		`rb.yaml:9:16: spec.steps[0].if: unknown param "nope"`,
		`rb.yaml:14:28: spec.steps[0].with.message: unknown param "qq"`,
	}},
	{"whole template keeps type", header + "    - {id: a, action: tcp.check, with: {host: h, port: \"${{ 'x' }}\"}}\n", []string{
		"rb.yaml:6:61: spec.steps[0].with.port: must be an int, but the expression is string",
	}},
	{"text template into int", header + "    - {id: a, action: tcp.check, with: {host: h, port: \"5${{ 4 }}\"}}\n", []string{
		"rb.yaml:6:56: spec.steps[0].with.port: expected int, but text mixed with ${{ }} is a string (make the template the whole value to keep its type)",
	}},
	{"unclosed template", header + "    - {id: a, action: log, with: {message: \"${{ params.x\"}}\n", []string{
		"rb.yaml:6:44: spec.steps[0].with.message: template at offset 0 is not closed with }}",
	}},
	{"filters over JSON pass", header + `    - id: pods
      action: shell
      with: {command: [kubectl, get, pods, -o, json], parseJson: true}
    - id: check
      assert:
        that: >-
          steps.pods.outputs.json.items.filter(p, p.status.phase != 'Running')
          .exists(p, p.status.containerStatuses.exists(c, !c.ready && c.name.startsWith('web-')))
    - id: ports
      assert: {that: "steps.pods.outputs.json.items.all(p, p.spec.containers.all(c, c.ports.exists(q, q.containerPort == 80)))"}
`, nil},
	{"a cross product over JSON is refused", header + `    - {id: pods, action: shell, with: {command: [x], parseJson: true}}
    - id: check
      assert: {that: "steps.pods.outputs.json.all(a, steps.pods.outputs.json.all(b, steps.pods.outputs.json.all(c, a == b && b == c)))"}
`, []string{
		"rb.yaml:8:23: spec.steps[1].assert.that: expression is too expensive: its worst case costs 27000800080005, the limit is 10000000000 (lists count as up to 10000 items and strings as up to 65536 bytes; JSON values reached through a loop over JSON as up to 100)",
	}},
	{"extensions available", header + "    - {id: a, action: log, with: {message: \"${{ ['a','b'].join(',').upperAscii() + string(math.greatest(1, 2)) + base64.encode(b'x') }}\"}}\n", nil},
}

func TestExpressions(t *testing.T) {
	for _, tt := range exprCases {
		t.Run(tt.name, func(t *testing.T) {
			assertDiags(t, diags(t, tt.src), tt.want)
		})
	}
}
