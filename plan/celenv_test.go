package plan

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// TestCELFunctionsArePinned lists every function and overload the base
// environment declares. A cel-go upgrade or a library version change that
// adds, removes or changes one fails here: what stored expressions mean must
// not change by accident. UPDATE_GOLDEN=1 rewrites the list.
func TestCELFunctionsArePinned(t *testing.T) {
	env := MustBaseEnv()
	var lines []string
	for name, fn := range env.Functions() {
		for _, o := range fn.OverloadDecls() {
			var args []string
			for _, a := range o.ArgTypes() {
				args = append(args, a.String())
			}
			lines = append(lines, name+" "+o.ID()+"("+strings.Join(args, ", ")+") "+o.ResultType().String())
		}
	}
	slices.Sort(lines)
	got := strings.Join(lines, "\n") + "\n"
	const golden = "testdata/cel-functions.txt"
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("the CEL environment's functions changed; if on purpose, run UPDATE_GOLDEN=1 go test ./plan and say so in the changelog")
	}
}
