package runbooks_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/opsrunbook/runbook/plan"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/runbooks"
)

// FuzzBuild runs parse, lint and compile on arbitrary input: it must never
// panic or hang, and a plan comes back exactly when there is no error.
func FuzzBuild(f *testing.F) {
	seeds, _ := filepath.Glob("../examples/*.yaml")
	lintSeeds, _ := filepath.Glob("testdata/lint/*.yaml")
	setSeeds, _ := filepath.Glob("testdata/lint/*/*.yaml")
	for _, s := range append(append(seeds, lintSeeds...), setSeeds...) {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	for _, c := range exprCases {
		f.Add([]byte(c.src))
	}
	opts := runbooks.Options{Actions: activities.Catalog()}
	f.Fuzz(func(t *testing.T, src []byte) {
		p, diags, err := runbooks.Build("fuzz.yaml", src, opts)
		if (err == nil) != (p != nil) || (err != nil) != diags.HasErrors() {
			t.Fatalf("plan %v, err %v, diags %v", p != nil, err, diags)
		}
		for _, d := range diags {
			if d.Pos.Line < 1 || d.Message == "" || d.Code == "" {
				t.Fatalf("diagnostic without a position, message or code: %+v", d)
			}
		}
		if p != nil {
			if _, err := plan.NewEvaluator(p); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// FuzzTemplate builds a step whose input is an arbitrary template string.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"${{ params.x }}", "a ${{ 1 + 2 }} b", "$${{", "${{ '}}' }}", "${{ {'a': 1} }}", "${{"} {
		f.Add(s)
	}
	opts := runbooks.Options{Actions: activities.Catalog()}
	f.Fuzz(func(t *testing.T, tmpl string) {
		doc := []byte(header + "    - id: a\n      action: log\n      with:\n        message: " + quoteYAML(tmpl) + "\n")
		p, _, err := runbooks.Build("fuzz.yaml", doc, opts)
		if err != nil {
			return
		}
		ev, err := plan.NewEvaluator(p)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = ev.Render(p.Step("a").With["message"], plan.Vars{"params": map[string]any{}})
	})
}

func quoteYAML(s string) string {
	out := []byte{'"'}
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			out = append(out, '\\', byte(r))
		case r < 0x20 || r == 0x7f:
			out = append(out, []byte("\\x")...)
			out = append(out, "0123456789abcdef"[r>>4], "0123456789abcdef"[r&15])
		default:
			out = append(out, string(r)...)
		}
	}
	return string(append(out, '"'))
}
