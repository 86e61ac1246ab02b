package runbooks

import (
	"errors"
	"reflect"
	"slices"
	"testing"
)

// TestStepFieldsHaveAKind: every field of a step is common or belongs to a
// kind in the table, so a field added to Step without its table entry is
// caught here rather than refused as "only valid on ? steps".
func TestStepFieldsHaveAKind(t *testing.T) {
	for _, f := range infoOf(reflect.TypeOf(Step{})).fields {
		owned := slices.Contains(commonStepFields, f.name)
		for _, k := range stepKinds {
			owned = owned || k.field == f.name || slices.Contains(k.fields, f.name)
		}
		if !owned {
			t.Errorf("step field %s belongs to no kind in stepKinds", f.name)
		}
	}
	for _, k := range stepKinds {
		if k.set == nil || k.lint == nil || k.compile == nil {
			t.Errorf("kind %s lacks set, lint or compile", k.kind)
		}
	}
}

// TestSectionsCoverEveryStepList: sections, the child iterator of the
// document, yields every step list a step can hold (found here by type),
// so a list added to Step or to a struct inside it cannot be missed.
func TestSectionsCoverEveryStepList(t *testing.T) {
	listType := reflect.TypeOf(List[*Step]{})
	s := &Step{}
	lists := 0
	var fill func(v reflect.Value)
	fill = func(v reflect.Value) {
		for i := 0; i < v.NumField(); i++ {
			f := v.Field(i)
			switch {
			case f.Type() == listType:
				f.Set(reflect.ValueOf(List[*Step]{Set: true, Items: []*Step{{}}}))
				lists++
			case f.Kind() == reflect.Pointer && f.Type().Elem().Kind() == reflect.Struct && f.Type().Elem() != reflect.TypeOf(Step{}):
				f.Set(reflect.New(f.Type().Elem()))
				fill(f.Elem())
			}
		}
	}
	fill(reflect.ValueOf(s).Elem())
	if got := len(sections(s)); got != lists || lists == 0 {
		t.Errorf("sections yields %d lists; Step holds %d", got, lists)
	}
}

// TestCompileMissingRecord: a set field that lint left no record of is an
// *InternalError from Compile, and a panic under test, never a plan that
// silently lacks it (here an if that would vanish).
func TestCompileMissingRecord(t *testing.T) {
	src := []byte("apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: rb}\nspec:\n  steps:\n    - {id: wait, if: 'true', sleep: 1s}\n")
	lintedWithoutIf := func() *Checked {
		doc, diags := Parse("rb.yaml", src)
		if doc == nil {
			t.Fatal(diags)
		}
		c, diags := Lint(doc, src, Options{})
		if c == nil {
			t.Fatal(diags)
		}
		delete(c.exprs, &doc.Spec.Steps.Items[0].If)
		return c
	}
	const want = "rb.yaml:6:22: internal error: lint recorded no expression (a bug in package runbooks, not in the runbook)"

	func() {
		defer func() {
			err, _ := recover().(error)
			if err == nil || err.Error() != want {
				t.Errorf("under test: recovered %v, want a panic with %q", err, want)
			}
		}()
		Compile(lintedWithoutIf())
	}()

	strict = false
	defer func() { strict = true }()
	p, err := Compile(lintedWithoutIf())
	var ie *InternalError
	if p != nil || !errors.As(err, &ie) || err.Error() != want {
		t.Errorf("in production: plan %v, err %v; want no plan and %q", p, err, want)
	}
}
