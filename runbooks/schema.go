package runbooks

import (
	"reflect"

	"github.com/opsrunbook/runbook/plan"
)

// The JSON Schema of the format is generated from the same struct tags the
// decoder reads and the same action specs the linter checks, so editors
// complete exactly what validate accepts.

func (List[T]) listElem() reflect.Type { return reflect.TypeOf((*T)(nil)).Elem() }
func (Map[T]) mapElem() reflect.Type   { return reflect.TypeOf((*T)(nil)).Elem() }

type schemaGen struct {
	defs    map[string]any
	catalog plan.Catalog
}

// JSONSchema returns the JSON Schema (draft 2020-12) of runbook/v1 with
// per-action input schemas for the actions in c.
func JSONSchema(c plan.Catalog) map[string]any {
	g := &schemaGen{defs: map[string]any{}, catalog: c}
	root := g.of(reflect.TypeOf(Document{}))
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["$id"] = "https://opsrunbook.dev/schemas/runbook-v1.json"
	root["title"] = "Runbook (" + APIVersion + ")"
	props := root["properties"].(map[string]any)
	props["apiVersion"] = map[string]any{"const": APIVersion, "description": "Format version."}
	props["kind"] = map[string]any{"const": "Runbook"}
	root["$defs"] = g.defs
	return root
}

func (g *schemaGen) of(t reflect.Type) map[string]any {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case reflect.TypeOf(String{}):
		return map[string]any{"type": "string"}
	case reflect.TypeOf(Int{}):
		return map[string]any{"type": "integer"}
	case reflect.TypeOf(Number{}):
		return map[string]any{"type": "number"}
	case reflect.TypeOf(Bool{}):
		return map[string]any{"type": "boolean"}
	case reflect.TypeOf(Raw{}):
		return map[string]any{}
	case reflect.TypeOf(OnStepFailure{}):
		return g.onStepFailureSchema()
	case reflect.TypeOf(Step{}):
		if _, ok := g.defs["step"]; !ok {
			g.defs["step"] = true // placeholder against recursion
			g.defs["step"] = g.stepSchema()
		}
		return map[string]any{"$ref": "#/$defs/step"}
	}
	z := reflect.Zero(t).Interface()
	if l, ok := z.(interface{ listElem() reflect.Type }); ok {
		return map[string]any{"type": "array", "items": g.of(l.listElem())}
	}
	if m, ok := z.(interface{ mapElem() reflect.Type }); ok {
		return map[string]any{"type": "object", "additionalProperties": g.of(m.mapElem())}
	}
	return g.object(t)
}

func (g *schemaGen) object(t reflect.Type) map[string]any {
	si := infoOf(t)
	props := map[string]any{}
	var required []string
	for _, f := range si.fields {
		s := g.of(t.Field(f.index).Type)
		if f.doc != "" {
			s["description"] = f.doc
		}
		if f.enum != nil {
			s["enum"] = f.enum
		}
		props[f.name] = s
		if f.required {
			required = append(required, f.name)
		}
	}
	out := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		out["required"] = required
	}
	return out
}

// stepSchema adds, per action, the schema of its with inputs.
func (g *schemaGen) stepSchema() map[string]any {
	s := g.object(reflect.TypeOf(Step{}))
	var names []string
	var conds []any
	for _, a := range g.catalog.Actions() {
		names = append(names, a.Name)
		conds = append(conds, map[string]any{
			"if":   map[string]any{"properties": map[string]any{"action": map[string]any{"const": a.Name}}, "required": []string{"action"}},
			"then": map[string]any{"properties": map[string]any{"with": inputsSchema(a)}},
		})
	}
	props := s["properties"].(map[string]any)
	props["action"].(map[string]any)["enum"] = names
	if len(conds) > 0 {
		s["allOf"] = conds
	}
	var kinds []any
	for _, k := range stepKinds {
		kinds = append(kinds, map[string]any{"required": []string{k.field}})
	}
	s["anyOf"] = kinds
	return s
}

func inputsSchema(a *plan.ActionSpec) map[string]any {
	props := map[string]any{}
	var required []string
	for _, f := range a.Inputs {
		s := typeSchema(f.Type)
		if f.Description != "" {
			s["description"] = f.Description
		}
		if f.Default != nil {
			s["default"] = f.Default
		}
		if len(f.Enum) > 0 {
			s["enum"] = f.Enum
		}
		props[f.Name] = s
		if f.Required {
			required = append(required, f.Name)
		}
	}
	out := map[string]any{"type": "object", "properties": props, "additionalProperties": false, "description": a.Description}
	if len(required) > 0 {
		out["required"] = required
	}
	return out
}

// templateSchema matches a string holding a ${{ }} template, which may
// stand for a value of any type.
var templateSchema = map[string]any{"type": "string", "pattern": `\$\{\{`}

func typeSchema(t *plan.Type) map[string]any {
	var s map[string]any
	switch t.Kind {
	case plan.KindString, plan.KindDuration, plan.KindTimestamp:
		return map[string]any{"type": "string"}
	case plan.KindInt:
		s = map[string]any{"type": "integer"}
	case plan.KindNumber:
		s = map[string]any{"type": "number"}
	case plan.KindBool:
		s = map[string]any{"type": "boolean"}
	case plan.KindList:
		s = map[string]any{"type": "array", "items": typeSchema(t.Elem)}
	case plan.KindMap:
		s = map[string]any{"type": "object", "additionalProperties": typeSchema(t.Elem)}
	case plan.KindObject:
		props := map[string]any{}
		for _, f := range t.Fields {
			props[f.Name] = typeSchema(f.Type)
		}
		s = map[string]any{"type": "object", "properties": props}
	default:
		return map[string]any{}
	}
	return map[string]any{"anyOf": []any{s, templateSchema}}
}
