package runbooks_test

import (
	"strings"
	"testing"

	"github.com/opsrunbook/runbook/plan"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/runbooks"
)

// diags builds src as rb.yaml and returns every diagnostic as a string.
func diags(t *testing.T, src string, opts ...runbooks.Options) []string {
	t.Helper()
	o := runbooks.Options{Actions: activities.Catalog()}
	if len(opts) > 0 {
		o = opts[0]
	}
	_, ds, _ := runbooks.Build("rb.yaml", []byte(src), o)
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.String()
	}
	return out
}

// mustBuild builds src and fails the test on any error.
func mustBuild(t *testing.T, src string) *plan.Plan {
	t.Helper()
	p, ds, err := runbooks.Build("rb.yaml", []byte(src), runbooks.Options{Actions: activities.Catalog()})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	for _, d := range ds {
		t.Logf("%s", d)
	}
	return p
}

func assertDiags(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("diagnostics differ\n got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// header is the start of every test runbook; steps follow at line 6.
const header = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: t}
spec:
  steps:
`
