package activities

import (
	"slices"
	"testing"

	"github.com/opsrunbook/runbook/plan"
)

// TestSpecsAreWellFormed checks what the compiler relies on: unique names,
// defaults that fit their types, and constraint groups over real inputs.
func TestSpecsAreWellFormed(t *testing.T) {
	specs := Catalog().Actions()
	if len(specs) != len(Catalog()) || len(specs) != len((&Env{}).Handlers()) {
		t.Errorf("catalog has %d actions", len(specs))
	}
	for _, s := range specs {
		if s.Name == "" || s.Description == "" {
			t.Errorf("%q: name and description are required", s.Name)
		}
		var names []string
		for _, f := range append(slices.Clone(s.Inputs), s.Outputs...) {
			if f.Type == nil || f.Description == "" {
				t.Errorf("%s.%s: type and description are required", s.Name, f.Name)
			}
		}
		for _, f := range s.Inputs {
			if slices.Contains(names, f.Name) {
				t.Errorf("%s: input %q twice", s.Name, f.Name)
			}
			names = append(names, f.Name)
			if f.Default != nil {
				if _, err := plan.Coerce(f.Default, f.Type); err != nil {
					t.Errorf("%s.%s: default %v: %v", s.Name, f.Name, f.Default, err)
				}
				if f.Required {
					t.Errorf("%s.%s: required with a default", s.Name, f.Name)
				}
			}
			if len(f.Enum) > 0 && f.Type.Kind != plan.KindString {
				t.Errorf("%s.%s: enum on a %s", s.Name, f.Name, f.Type)
			}
		}
		for _, n := range s.Needs {
			in, ok1 := s.Input(n.Input)
			other, ok2 := s.Input(n.Other)
			if !ok1 || !ok2 || in.Default == nil || !slices.Contains(other.Enum, n.Value) {
				t.Errorf("%s: needs %+v: want an input with a default, and a value of the other's enum", s.Name, n)
			}
		}
		for _, g := range append(slices.Clone(s.ExactlyOne), s.AtMostOne...) {
			for _, n := range g {
				if !slices.Contains(names, n) {
					t.Errorf("%s: constraint names unknown input %q", s.Name, n)
				}
			}
		}
	}
}
