package runbooks_test

import "testing"

// exprCases are the expression cases testdata/lint cannot hold: their
// diagnostics point into block scalars, where a # want: comment would be
// part of the text. The others are files in testdata/lint (expr-*.yaml,
// templates.yaml).
var exprCases = []struct {
	name string
	src  string
	want []string
}{
	{"folded and literal expressions", header + "    - id: a\n      if: >-\n        1 == 1 &&\n        params.nope == 'y'\n      action: log\n      with:\n        message: |\n          hello ${{ 1 }}\n            and ${{ params.qq }}\n", []string{
		`rb.yaml:9:16: spec.steps[0].if: unknown param "nope"`,
		`rb.yaml:14:28: spec.steps[0].with.message: unknown param "qq"`,
	}},
}

func TestExpressions(t *testing.T) {
	for _, tt := range exprCases {
		t.Run(tt.name, func(t *testing.T) {
			assertDiags(t, diags(t, tt.src), tt.want)
		})
	}
}
