package activities

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/opsrunbook/runbook/plan"
)

// checkInputs reports how the struct t, which an action's inputs decode
// into, disagrees with its spec: each input needs exactly one field, whose
// json tag is the input's name (no options) and whose Go type holds what
// the input's type decodes to; a field naming no input is an error too.
// Without it a misspelt tag would silently decode to a zero value. (Two
// fields with one tag, which encoding/json would both ignore, are go
// vet's structtag error.) The fields of an untagged embedded struct count
// as the struct's own, as encoding/json decodes them.
func checkInputs(spec *plan.ActionSpec, t reflect.Type) error {
	if t.Kind() != reflect.Struct {
		return fmt.Errorf("action %s: inputs decode into %s, which is not a struct", spec.Name, t)
	}
	var probs []string
	seen := map[string]bool{} // input names with a field
	flat := map[string]bool{} // the untagged embedded structs, by index path
	// VisibleFields lists an embedded field just before its fields.
	for _, f := range reflect.VisibleFields(t) {
		if len(f.Index) > 1 && !flat[fmt.Sprint(f.Index[:len(f.Index)-1])] {
			continue // inside a tagged or pointer embedded field, reported itself: encoding/json decodes it under that field's name
		}
		tag, ok := f.Tag.Lookup("json")
		if f.Anonymous && !ok && f.Type.Kind() == reflect.Struct {
			flat[fmt.Sprint(f.Index)] = true
			continue // encoding/json decodes its fields as the outer's, and so are they checked
		}
		if f.Anonymous || !f.IsExported() || !ok || tag == "" || tag == "-" || strings.Contains(tag, ",") {
			probs = append(probs, fmt.Sprintf("field %s: want an exported field tagged json:\"<input>\", without options", f.Name))
			continue
		}
		in, ok := spec.Input(tag)
		switch {
		case !ok:
			probs = append(probs, fmt.Sprintf("field %s: no input %q", f.Name, tag))
		case !holds(f.Type, in.Type):
			probs = append(probs, fmt.Sprintf("field %s is %s, input %q is %s", f.Name, f.Type, tag, in.Type))
		}
		seen[tag] = true
	}
	for _, in := range spec.Inputs {
		if !seen[in.Name] {
			probs = append(probs, fmt.Sprintf("input %q has no field", in.Name))
		}
	}
	if len(probs) > 0 {
		return errors.New("action " + spec.Name + ": " + strings.Join(probs, "; "))
	}
	return nil
}

// holds reports whether a value of type t, as prepare coerces it, decodes
// into g exactly: no conversion that could lose or reject a value.
func holds(g reflect.Type, t *plan.Type) bool {
	if t == nil {
		t = plan.AnyType
	}
	switch t.Kind {
	case plan.KindAny:
		return g.Kind() == reflect.Interface && g.NumMethod() == 0
	case plan.KindString, plan.KindDuration, plan.KindTimestamp:
		return g.Kind() == reflect.String
	case plan.KindInt:
		return g.Kind() == reflect.Int || g.Kind() == reflect.Int64
	case plan.KindNumber:
		return g.Kind() == reflect.Float64
	case plan.KindBool:
		return g.Kind() == reflect.Bool
	case plan.KindList:
		return g.Kind() == reflect.Slice && holds(g.Elem(), t.Elem)
	case plan.KindMap:
		return g.Kind() == reflect.Map && g.Key().Kind() == reflect.String && holds(g.Elem(), t.Elem)
	}
	return false // objects are not action inputs
}
