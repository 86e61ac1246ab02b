package runbooks_test

import (
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/opsrunbook/runbook/runbooks"
)

// docs/diagnostics.md documents every code, in the order of runbooks.Codes.
func TestDiagnosticsDocListsEveryCode(t *testing.T) {
	doc, err := os.ReadFile("../docs/diagnostics.md")
	if err != nil {
		t.Fatal(err)
	}
	var listed []runbooks.Code
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z-]+)` \\|").FindAllSubmatch(doc, -1) {
		listed = append(listed, runbooks.Code(m[1]))
	}
	if !slices.Equal(listed, runbooks.Codes) {
		t.Errorf("docs/diagnostics.md lists %v\nrunbooks.Codes is %v", listed, runbooks.Codes)
	}
}
