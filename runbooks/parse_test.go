package runbooks_test

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"empty file", "", []string{"rb.yaml:1:1: file is empty"}},
		{"only a comment", "# nothing\n", []string{"rb.yaml:1:1: file is empty"}},
		{"yaml syntax", "apiVersion: runbook/v1\nkind: Runbook\n\tmetadata: x\n", []string{
			"rb.yaml:3:1: invalid YAML: found a tab character that violates indentation (indent with spaces, not tabs)",
		}},
		{"tab deeper in a mapping", "apiVersion: runbook/v1\nkind: Runbook\nmetadata:\n  name: t\n  \tlabels: x\n", []string{
			"rb.yaml:5:3: invalid YAML: found a tab character that violates indentation (indent with spaces, not tabs)",
		}},
		{"unclosed flow list", header + "    - id: a\n      sleep: 1s\n      dependsOn: [b\n", []string{
			"rb.yaml:8:1: invalid YAML: did not find expected ',' or ']'",
		}},
		{"unclosed flow list spanning lines", header + "    - id: a\n      dependsOn: [b,\n        c\n", []string{
			"rb.yaml:7:1: invalid YAML: did not find expected ',' or ']'",
		}},
		{"unclosed flow map", header + "    - {id: a, sleep: 1s\n", []string{
			"rb.yaml:6:1: invalid YAML: did not find expected ',' or '}'",
		}},
		{"list item among keys", header + "    - id: a\n      sleep: 1s\n  - b\n", []string{
			"rb.yaml:5:1: invalid YAML: did not find expected key",
		}},
		{"scanner error line unchanged", header + "    - id: a\n      sleep: @1s\n", []string{
			"rb.yaml:7:1: invalid YAML: found character that cannot start any token",
		}},
		{"not a mapping", "- a\n- b\n", []string{"rb.yaml:1:1: expected a mapping, got a list"}},
		{"missing everything", "apiVersion: runbook/v1\n", []string{
			`rb.yaml:1:1: missing required field "kind"`,
			`rb.yaml:1:1: missing required field "metadata"`,
			`rb.yaml:1:1: missing required field "spec"`,
		}},
		{"two documents", header + "    - {id: a, sleep: 1s}\n---\nkind: x\n", []string{
			"rb.yaml:7:1: a file holds one runbook; found a second YAML document",
		}},
		{"unknown field with hint", header + "    - id: a\n      sleep: 1s\n      timout: 5m\n", []string{
			`rb.yaml:8:7: spec.steps[0].timout: unknown field "timout" (did you mean "timeout"?)`,
		}},
		{"unknown field without hint", header + "    - id: a\n      sleep: 1s\n      colour: red\n", []string{
			`rb.yaml:8:7: spec.steps[0].colour: unknown field "colour"`,
		}},
		{"duplicate key", header + "    - id: a\n      sleep: 1s\n      id: b\n", []string{
			`rb.yaml:8:7: spec.steps[0].id: duplicate key "id"`,
		}},
		{"wrong kind string", header + "    - id: [a]\n      sleep: 1s\n", []string{
			"rb.yaml:6:11: spec.steps[0].id: expected a string, got a list",
		}},
		{"number where string", header + "    - id: a\n      sleep: 5\n", []string{
			"rb.yaml:7:14: spec.steps[0].sleep: expected a string, got an integer (quote the value to make it a string)",
		}},
		{"bool kind", header + "    - id: a\n      sleep: 1s\n      continueOnError: yes\n", []string{
			"rb.yaml:8:24: spec.steps[0].continueOnError: expected true or false, got a string",
		}},
		{"steps not a list", "apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: t}\nspec:\n  steps: {id: a}\n", []string{
			"rb.yaml:5:10: spec.steps: expected a list, got a mapping",
		}},
		{"null required", "apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: t}\nspec:\n  steps:\n    - id:\n      sleep: 1s\n", []string{
			`rb.yaml:6:7: spec.steps[0].id: "id" needs a value`,
		}},
		{"merge keys", "apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: t}\nspec:\n  steps:\n    - &s {id: a, sleep: 1s}\n    - <<: *s\n      id: b\n", []string{
			"rb.yaml:7:7: spec.steps[1]: YAML merge keys (<<) are not supported; repeat the fields",
			`rb.yaml:7:7: spec.steps[1]: step "b" does nothing; give it one of action, approval, parallel, steps, forEach, runbook, sleep, waitFor, assert, set or exit`,
		}},
		{"alias bomb", laughs(7), []string{"rb.yaml:1:1: the document expands to more than 100000 YAML values through its aliases"}},
		{"enum field", header + "    - id: a\n      waitFor: {event: go, onTimeout: contine}\n", []string{
			`rb.yaml:7:39: spec.steps[0].waitFor.onTimeout: "contine" is not one of fail, continue (did you mean "continue"?)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertDiags(t, diags(t, tt.src), tt.want)
		})
	}
}

// laughs builds a document whose aliases expand to 10^levels values.
func laughs(levels int) string {
	var b strings.Builder
	b.WriteString(header + "    - {id: a, sleep: 1s}\n  outputs:\n    l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < levels; i++ {
		fmt.Fprintf(&b, "    l%d: &l%d [*l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	return b.String()
}
