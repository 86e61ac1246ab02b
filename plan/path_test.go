package plan_test

import (
	"testing"

	"github.com/opsrunbook/runbook/plan"
)

func TestPath(t *testing.T) {
	steps := plan.Path("spec.steps")
	for _, tt := range []struct {
		got  plan.Path
		want string
	}{
		{steps.Index(2).Field("with", "url"), "spec.steps[2].with.url"},
		{plan.Path("").Field("apiVersion"), "apiVersion"},
		{plan.Path("spec.vars").Key("total"), "spec.vars.total"},
		{plan.Path("spec.vars").Key("a.b"), `spec.vars["a.b"]`},
		{plan.Path("spec.outputs").Key(""), `spec.outputs[""]`},
		{plan.Path("").Key("x y"), `["x y"]`},
		{steps.Join(""), "spec.steps"},
		{steps.Join("[1]"), "spec.steps[1]"},
		{steps.Join("a.b"), "spec.steps.a.b"},
		{plan.Path("").Join("a"), "a"},
	} {
		if tt.got.String() != tt.want {
			t.Errorf("got %s, want %s", tt.got, tt.want)
		}
	}
}
