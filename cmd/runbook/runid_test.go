package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// plan previews run.id in the documented form: the name, a dash and 26
// characters of the id alphabet.
func TestPlanPreviewsAWellFormedRunID(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ids.yaml")
	if err := os.WriteFile(file, []byte(`apiVersion: runbook/v1
kind: Runbook
metadata: {name: ids}
spec:
  steps:
    - {id: say, action: log, with: {message: "run ${{ run.id }}"}}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "plan", file)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if want := `message: "run ids-00000000000000000000000000"`; !strings.Contains(out, want) {
		t.Errorf("plan output lacks %q:\n%s", want, out)
	}
}
