package runbooks_test

import (
	"strings"
	"testing"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/runbooks"
)

// A step input known before the run and past plan.MaxOutputBytes of JSON
// is refused: the step could never run (its log outputs echo it).
func TestValidateRefusesOversizedInputs(t *testing.T) {
	src := `apiVersion: runbook/v1
kind: Runbook
metadata: {name: big}
spec:
  steps:
    - id: say
      action: log
      with: {message: "${{ lists.range(10000).map(i, '` + strings.Repeat("x", 120) + `').join('') }}"}
`
	_, diags, err := runbooks.Build("big.yaml", []byte(src), runbooks.Options{Actions: activities.Catalog()})
	got := ""
	for _, d := range diags {
		got += d.Message + "\n"
	}
	want := "step say: with.message is 1200002 bytes of JSON, more than the 1048576 a step's input or outputs may be"
	if err == nil || !strings.Contains(got, want) {
		t.Fatalf("diagnostics:\n%s\nwant one with %q", got, want)
	}
}
