package runbooks_test

import (
	"errors"
	"fmt"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/runbooks"
)

// Build parses, lints and compiles one file against the action catalog. The
// plan is what the interpreter runs; All walks its steps at any depth, each
// step before the sections nested in it (plan.Step.Children).
func ExampleBuild() {
	src := `apiVersion: runbook/v1
kind: Runbook
metadata: {name: restart}
spec:
  params:
    - {name: service, type: string, required: true}
  steps:
    - id: hosts
      forEach: '["a", "b"]'
      as: host
      steps:
        - id: restart
          action: shell
          with: {command: [systemctl, restart, "${{ params.service }}"]}
      onError:
        - {id: page, action: log, with: {message: "${{ host }} failed: ${{ error.message }}"}}
    - id: settle
      if: steps.hosts.outputs.failed == 0
      sleep: 30s
`
	p, _, err := runbooks.Build("restart.yaml", []byte(src), runbooks.Options{Actions: activities.Catalog()})
	if err != nil {
		fmt.Println(err)
		return
	}
	for s := range p.All() {
		fmt.Println(s.ID, s.Kind)
	}
	for _, sec := range p.Step("hosts").Children() {
		fmt.Printf("hosts.%s: %d step(s), run %v\n", sec.Field, len(sec.Steps), sec.Runs)
	}
	fmt.Println("settle if:", p.Step("settle").If.Src)
	// Output:
	// hosts forEach
	// restart action
	// page action
	// settle sleep
	// hosts.steps: 1 step(s), run per item
	// hosts.onError: 1 step(s), run on item error
	// settle if: steps.hosts.outputs.failed == 0
}

// An invalid runbook gives no plan: the error is an *InvalidError, and the
// diagnostics say where and why, one per problem.
func ExampleBuild_invalid() {
	src := `apiVersion: runbook/v1
kind: Runbook
metadata: {name: broken}
spec:
  steps:
    - {id: wait, sleep: 1s, onError: [{id: w, sleep: 1s}]}
    - {id: check, action: shel}
`
	p, diags, err := runbooks.Build("broken.yaml", []byte(src), runbooks.Options{Actions: activities.Catalog()})
	var invalid *runbooks.InvalidError
	fmt.Println(p == nil, errors.As(err, &invalid))
	for _, d := range diags {
		fmt.Println(d)
	}
	// Output:
	// true true
	// broken.yaml:6:38: spec.steps[0].onError: onError is only valid on forEach steps, not on a sleep step
	// broken.yaml:7:27: spec.steps[1].action: unknown action "shel" (did you mean "shell"?)
}

// Expressions are checked when the runbook is built and evaluated by the
// plan's Evaluator when the step runs, in the one environment of package
// plan: a CEL function added there (json here) is known to both.
func ExampleBuild_expressions() {
	src := `apiVersion: runbook/v1
kind: Runbook
metadata: {name: report}
spec:
  params:
    - {name: hosts, type: list, items: string, default: [a, b]}
  steps:
    - id: say
      action: log
      with: {message: "${{ size(params.hosts) }} hosts: ${{ json(params.hosts) }}"}
`
	p, _, err := runbooks.Build("report.yaml", []byte(src), runbooks.Options{Actions: activities.Catalog()})
	if err != nil {
		fmt.Println(err)
		return
	}
	ev, err := plan.NewEvaluator(p)
	if err != nil {
		fmt.Println(err)
		return
	}
	params, err := p.BindParams(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	msg, err := ev.Render(p.Step("say").With["message"], plan.Vars{"params": p.ParamVars(params)})
	fmt.Println(msg, err)
	// Output:
	// 2 hosts: ["a","b"] <nil>
}
