package runbooks_test

import (
	"errors"
	"testing"

	"github.com/opsrunbook/runbook/plan"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/runbooks"
)

// pinHeader declares free and pinned params; steps start at line 15.
const pinHeader = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: t}
spec:
  params:
    - {name: cmd, type: list, items: string, default: [./restart.sh]}
    - {name: dir, type: string, default: /srv}
    - {name: name, type: string, default: api}
    - {name: env, type: string, default: prod, enum: [prod, staging]}
    - {name: svc, type: string, default: api, pattern: "^[a-z]+$"}
    - {name: tool, type: string, default: /opt/tool, fixed: true}
    - {name: n, type: int, default: 1}
  secrets: [KEY, DSN]
  steps:
`

// pinCases cover the rules that keep params out of programs, scripts,
// SQL and paths.
var pinCases = []struct {
	name string
	src  string
	want []string
}{
	{"the old incident example: a run chooses the command", pinHeader + `    - id: restart
      action: shell
      with:
        command: "${{ params.cmd + [params.svc] }}"
`, []string{
		`rb.yaml:18:23: spec.steps[0].with.command: param "cmd" chooses the program: it reaches the whole command list (write command as a YAML list whose first item the runbook fixes, and pass values as later items)`,
	}},
	{"the old change example: a run chooses the script's directory", pinHeader + `    - id: deploy
      action: shell
      with:
        command: ["${{ params.dir }}/deploy.sh", "${{ params.name }}"]
`, []string{
		`rb.yaml:18:24: spec.steps[0].with.command[0]: param "dir" chooses the program: it reaches command[0] (fix the program in the runbook and pass values as later items)`,
	}},
	{"through vars and loop variables", `apiVersion: runbook/v1
kind: Runbook
metadata: {name: t}
spec:
  params:
    - {name: dir, type: string, default: /srv}
    - {name: progs, type: list, items: string, default: [a]}
  vars:
    deploy: "params.dir + '/deploy.sh'"
    plain: "'/opt/deploy.sh'"
  steps:
    - {id: a, action: shell, with: {command: ["${{ vars.deploy }}"]}}
    - {id: b, action: shell, with: {command: ["${{ vars.plain }}", "${{ params.dir }}"]}}
    - id: each
      forEach: params.progs
      as: prog
      steps:
        - {id: c, set: {path: "prog + '.sh'"}}
        - {id: d, action: shell, with: {command: ["${{ vars.path }}"]}}
`, []string{
		`rb.yaml:12:52: spec.steps[0].with.command[0]: param "dir" chooses the program: it reaches command[0] (fix the program in the runbook and pass values as later items)`,
		`rb.yaml:19:56: spec.steps[2].steps[1].with.command[0]: param "progs" chooses the program: it reaches command[0] (fix the program in the runbook and pass values as later items)`,
	}},
	{"pinned params and values in arguments pass", pinHeader + `    - {id: a, action: shell, with: {command: ["/opt/${{ params.env }}/deploy.sh", "${{ params.dir }}", "${{ params.name }}"]}}
    - {id: b, action: shell, with: {command: ["${{ params.tool }}", "--svc=${{ params.svc }}"], dir: "/srv/${{ params.svc }}/${{ params.n }}"}}
    - {id: c, action: shell, with: {script: "restart \"$NAME\"", env: {NAME: "${{ params.name }}"}}}
    - {id: d, action: postgres.query, with: {dsn: "${{ secrets.DSN }}", query: "SELECT $1::text", args: ["${{ params.name }}"]}}
    - {id: e, action: http.check, with: {url: "${{ params.name }}"}}
    - {id: f, action: http.check, with: {url: "http://127.0.0.1/${{ params.name }}?q=${{ params.dir }}"}}
`, nil},
	{"scripts", pinHeader + `    - {id: a, action: shell, with: {script: "${{ params.name }}"}}
    - {id: b, action: shell, with: {script: "systemctl restart ${{ params.name }}"}}
    - {id: c, action: shell, with: {command: [sh, -c, "${{ params.name }}"]}}
    - {id: d, action: shell, with: {command: [/bin/bash, -ec, "kill ${{ params.name }}", x, "${{ params.name }}"]}}
    - {id: e, action: shell, with: {script: "ls ${{ params.svc }}"}}
`, []string{
		`rb.yaml:15:50: spec.steps[0].with.script: param "name" is the whole script, so a run chooses the code (fix the script in the runbook and pass it through env and read "$NAME" in the script)`,
		`rb.yaml:16:68: warning: spec.steps[1].with.script: param "name" is spliced into the text of the script (pass it through env and read "$NAME" in the script, or constrain it with enum or an anchored pattern)`,
		`rb.yaml:17:60: spec.steps[2].with.command[2]: param "name" is the whole sh -c script, so a run chooses the code (fix the sh -c script in the runbook and pass it as an argument after the script and read "$1")`,
		`rb.yaml:18:73: warning: spec.steps[3].with.command[2]: param "name" is spliced into the text of the /bin/bash -c script (pass it as an argument after the script and read "$1", or constrain it with enum or an anchored pattern)`,
	}},
	{"SQL", pinHeader + `    - {id: a, action: postgres.query, with: {dsn: "${{ secrets.DSN }}", query: "SELECT * FROM t WHERE name = '${{ params.name }}'"}}
    - {id: b, action: postgres.exec, with: {dsn: "${{ secrets.DSN }}", statement: "${{ params.name }}"}}
    - {id: c, action: postgres.exec, with: {dsn: "${{ secrets.DSN }}", statement: "DROP DATABASE ${{ params.svc }}"}}
`, []string{
		`rb.yaml:15:115: warning: spec.steps[0].with.query: param "name" is spliced into the text of the SQL (pass it in args and write $1, $2... in the SQL, or constrain it with enum or an anchored pattern)`,
		`rb.yaml:16:88: spec.steps[1].with.statement: param "name" is the whole SQL, so a run chooses the code (fix the SQL in the runbook and pass it in args and write $1, $2... in the SQL)`,
	}},
	{"paths", pinHeader + `    - {id: a, action: shell, with: {command: [ls], dir: "${{ params.dir }}"}}
    - {id: b, action: backup.files, with: {source: /srv, destination: "/backups/${{ params.name }}"}}
    - {id: c, action: restore.files, with: {path: "${{ params.tool }}", target: "${{ params.dir }}"}}
`, []string{
		`rb.yaml:15:62: spec.steps[0].with.dir: param "dir" reaches dir, a path, so a run chooses which files the action touches (fix the value with fixed: true or a literal in spec.vars, or constrain it with enum or an anchored pattern)`,
		`rb.yaml:16:85: spec.steps[1].with.destination: param "name" reaches destination, a path, so a run chooses which files the action touches (fix the value with fixed: true or a literal in spec.vars, or constrain it with enum or an anchored pattern)`,
		`rb.yaml:17:86: spec.steps[2].with.target: param "dir" reaches target, a path, so a run chooses which files the action touches (fix the value with fixed: true or a literal in spec.vars, or constrain it with enum or an anchored pattern)`,
	}},
	{"URL hosts", pinHeader + `    - {id: a, action: http.check, with: {url: "http://${{ params.name }}/healthz"}}
    - {id: b, action: http.request, with: {url: "${{ params.name }}/api"}}
    - {id: c, action: http.check, with: {url: "https://${{ params.svc }}.example.com/"}}
    - {id: d, action: http.check, with: {url: "https://a/${{ params.name }}#${{ params.dir }}@${{ params.name }}"}}
    - {id: e, action: http.check, with: {url: "https://${{ params.env }}-${{ params.dir }}.example.com/${{ params.dir }}"}}
`, []string{
		`rb.yaml:15:59: warning: spec.steps[0].with.url: param "name" is spliced into the host of url (constrain it with enum or an anchored pattern, or give the whole URL as the param)`,
		`rb.yaml:16:54: warning: spec.steps[1].with.url: param "name" is spliced into the host of url (constrain it with enum or an anchored pattern, or give the whole URL as the param)`,
		`rb.yaml:19:78: warning: spec.steps[4].with.url: param "dir" is spliced into the host of url (constrain it with enum or an anchored pattern, or give the whole URL as the param)`,
	}},
	{"ssh", pinHeader + `    - id: a
      action: ssh
      with:
        host: "${{ params.name }}"
        user: ops
        privateKey: "${{ secrets.KEY }}"
        knownHosts: "h ssh-ed25519 AAAA"
        command: ["${{ params.dir }}/restart", "${{ params.name }}"]
    - id: b
      action: ssh
      with: {host: h, user: ops, privateKey: "${{ secrets.KEY }}", knownHosts: k, script: "restart ${{ params.name }}"}
`, []string{
		`rb.yaml:22:24: spec.steps[0].with.command[0]: param "dir" chooses the program: it reaches command[0] (fix the program in the runbook and pass values as later items)`,
		`rb.yaml:25:104: warning: spec.steps[1].with.script: param "name" is spliced into the text of the script (pass it through env and read "$NAME" in the script, or constrain it with enum or an anchored pattern)`,
	}},
	{"patterns", `apiVersion: runbook/v1
kind: Runbook
metadata: {name: t}
spec:
  params:
    - {name: a, type: string, default: x, pattern: "[a-z]+"}
    - {name: b, type: string, default: x, pattern: "^[a-z]+"}
    - {name: c, type: string, default: x, pattern: "^a$|^x"}
    - {name: d, type: list, items: string, default: [x], pattern: "^(x|y)$"}
    - {name: e, type: string, default: x, pattern: "\\Ax\\z"}
    - {name: f, type: string, default: x, pattern: "^a$|^x$|^(?:b|c)$"}
    - {name: g, type: string, default: x, pattern: "(?m)^x$"}
  steps:
    - id: s
      approval:
        approvers: [ann]
        inputs:
          - {name: why, type: string, pattern: "[a-z]"}
`, []string{
		`rb.yaml:6:52: warning: spec.params[0].pattern: pattern "[a-z]+" is not anchored: it accepts any value that contains a match (use "^(?:[a-z]+)$")`,
		`rb.yaml:7:52: warning: spec.params[1].pattern: pattern "^[a-z]+" is not anchored: it accepts any value that contains a match (use "^(?:[a-z]+)$")`,
		`rb.yaml:8:52: warning: spec.params[2].pattern: pattern "^a$|^x" is not anchored: it accepts any value that contains a match (use "^(?:^a$|^x)$")`,
		`rb.yaml:12:52: warning: spec.params[6].pattern: pattern "(?m)^x$" is not anchored: it accepts any value that contains a match (use "^(?:(?m)^x)$")`,
		`rb.yaml:18:48: warning: spec.steps[0].approval.inputs[0].pattern: pattern "[a-z]" is not anchored: it accepts any value that contains a match (use "^(?:[a-z])$")`,
	}},
	{"fixed params", `apiVersion: runbook/v1
kind: Runbook
metadata: {name: t}
spec:
  params:
    - {name: tool, type: string, fixed: true}
    - {name: dir, type: string, default: /srv, fixed: true}
  schedules:
    - {name: nightly, cron: "@daily", params: {dir: /tmp}}
  triggers:
    - alertmanager: {match: "true", params: {dir: "'/tmp'"}}
  steps:
    - id: s
      approval:
        approvers: [ann]
        inputs:
          - {name: why, type: string, fixed: true}
`, []string{
		`rb.yaml:6:41: spec.params[0].fixed: a fixed param needs a default (give the value as default)`,
		`rb.yaml:9:48: spec.schedules[0].params.dir: param "dir" is fixed by the runbook and cannot be set`,
		`rb.yaml:11:46: spec.triggers[0].alertmanager.params.dir: param "dir" is fixed by the runbook and cannot be set`,
		`rb.yaml:17:46: spec.steps[0].approval.inputs[0].fixed: fixed is only valid in spec.params; an approver gives every input`,
	}},
	{"a run chooses the environment's names, a shell's stdin, a wrapper's program", `apiVersion: runbook/v1
kind: Runbook
metadata: {name: t}
spec:
  params:
    - {name: extra, type: map, default: {}}
    - {name: code, type: string, default: "true"}
    - {name: prog, type: string, default: ls}
  steps:
    - {id: a, action: shell, with: {command: [./deploy.sh], env: "${{ params.extra }}"}}
    - {id: b, action: shell, with: {command: [./deploy.sh], env: {MODE: "${{ params.code }}"}}}
    - {id: c, action: shell, with: {command: [sh, -e], stdin: "${{ params.code }}"}}
    - {id: d, action: shell, with: {command: [env, "${{ params.prog }}"]}}
    - {id: e, action: shell, with: {command: [sh, -s, --], stdin: "exit 0"}}
`, []string{
		`rb.yaml:10:71: spec.steps[0].with.env: param "extra" chooses the environment's names: it reaches the whole env map (LD_PRELOAD, BASH_ENV and the like run code) (write env as a YAML map whose names the runbook fixes, and pass values as its values)`,
		`rb.yaml:12:68: spec.steps[2].with.stdin: param "code" is the whole sh stdin script, so a run chooses the code (fix the sh stdin script in the runbook and pass it as an argument (sh -s -- VALUE) or through env)`,
		`rb.yaml:13:57: spec.steps[3].with.command[1]: param "prog" may choose the program: command[0] is env, which runs a program named in its arguments (fix the program in the runbook and pass values to it, not to env)`,
	}},
}

func TestPinnedRules(t *testing.T) {
	for _, c := range pinCases {
		t.Run(c.name, func(t *testing.T) {
			assertDiags(t, diags(t, c.src), c.want)
		})
	}
}

func TestSubRunbookCannotSetFixedParam(t *testing.T) {
	child := "apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: child}\nspec:\n  params:\n    - {name: dir, type: string, default: /srv, fixed: true}\n  steps:\n    - {id: a, action: shell, with: {command: [ls], dir: \"${{ params.dir }}\"}}\n"
	parent := header + "    - {id: c, runbook: {name: child, params: {dir: /tmp}}}\n"
	var got []string
	for _, r := range runbooks.BuildSet([]runbooks.Source{{File: "child.yaml", Data: []byte(child)}, {File: "rb.yaml", Data: []byte(parent)}}, runbooks.Options{Actions: activities.Catalog()}) {
		for _, d := range r.Diagnostics {
			got = append(got, d.String())
		}
	}
	assertDiags(t, got, []string{`rb.yaml:6:47: spec.steps[0].runbook.params.dir: param "dir" is fixed by runbook child and cannot be set`})
}

func TestBindParamsRefusesFixed(t *testing.T) {
	p := mustBuild(t, pinHeader+"    - {id: a, action: shell, with: {command: [\"${{ params.tool }}\"]}}\n")
	for _, given := range []any{"/bin/sh", "/opt/tool", nil} { // not even its own value
		_, err := p.BindParams(map[string]any{"tool": given, "n": 2})
		var pe *plan.ParamError
		if !errors.As(err, &pe) || len(pe.Problems) != 1 || pe.Problems[0] != `param "tool" is fixed by the runbook and cannot be set` {
			t.Errorf("tool=%v: %v", given, err)
		}
	}
	got, err := p.BindParams(map[string]any{"n": 2})
	if err != nil || got["tool"] != "/opt/tool" || got["n"] != int64(2) {
		t.Errorf("bound %v, %v", got, err)
	}
}
