package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/opsrunbook/runbook/plan"
)

// field is a form field made from a typed param: the browser checks what
// its attributes say (required, pattern, min, max), and the API checks
// everything again.
type field struct {
	Name, ID, Label, Description string
	Kind                         plan.Kind
	Input                        string // text, number, checkbox, select, textarea
	Value                        string
	Checked                      bool
	Options                      []string
	Required                     bool
	Pattern, Min, Max, Step      string
	Fixed                        bool
	Hint                         string
	// Values are a list's elements, one field each (Input "list"; the
	// elements' own input is ElemInput), with empty ones to add more.
	Values    []string
	ElemInput string
}

// spareListFields is how many empty fields a list field offers beyond its
// values (the console's script adds more on demand).
const spareListFields = 2

// fieldsOf makes the form fields of params, named prefix+name; with r,
// the values r posted, else the defaults.
func fieldsOf(params []plan.Param, prefix string, r *http.Request) []field {
	out := make([]field, 0, len(params))
	for _, p := range params {
		kind := plan.KindString
		if p.Type != nil {
			kind = p.Type.Kind
		}
		f := field{Name: prefix + p.Name, ID: "f-" + strings.ReplaceAll(prefix, ".", "-") + p.Name, Label: p.Name, Description: p.Description, Kind: kind,
			Required: p.Required && !p.HasDefault, Pattern: p.Pattern, Fixed: p.Fixed, Input: "text"}
		if p.HasDefault {
			f.Value = valueString(p.Default)
		}
		switch {
		case len(p.Enum) > 0:
			f.Input = "select"
			for _, e := range p.Enum {
				f.Options = append(f.Options, valueString(e))
			}
		case kind == plan.KindBool:
			f.Input = "checkbox"
			f.Checked = p.Default == true
		case kind == plan.KindInt || kind == plan.KindNumber:
			f.Input, f.Step = "number", "any"
			if kind == plan.KindInt {
				f.Step = "1"
			}
			if p.Min != nil {
				f.Min = strconv.FormatFloat(*p.Min, 'f', -1, 64)
			}
			if p.Max != nil {
				f.Max = strconv.FormatFloat(*p.Max, 'f', -1, 64)
			}
		case kind == plan.KindList:
			f.Input, f.Hint, f.ElemInput = "list", "one value a field; empty fields are left out", "text"
			if p.Type != nil && p.Type.Elem != nil && (p.Type.Elem.Kind == plan.KindInt || p.Type.Elem.Kind == plan.KindNumber) {
				f.ElemInput, f.Step = "number", "any"
				if p.Type.Elem.Kind == plan.KindInt {
					f.Step = "1"
				}
			}
			if l, ok := p.Default.([]any); ok {
				for _, e := range l {
					f.Values = append(f.Values, valueString(e))
				}
			}
		case kind == plan.KindMap || kind == plan.KindObject || kind == plan.KindAny:
			f.Input, f.Hint = "textarea", "JSON"
			if p.HasDefault {
				f.Value = jsonText(p.Default)
			}
		case kind == plan.KindDuration:
			f.Hint = "a duration: 90s, 15m, 2h"
		case kind == plan.KindTimestamp:
			f.Hint = "an RFC 3339 time: 2026-12-01T09:00:00Z"
		}
		if r != nil {
			f.Value = r.PostFormValue(f.Name)
			f.Checked = f.Value == "true"
			f.Values = nonEmpty(r.PostForm[f.Name])
		}
		if f.Input == "list" {
			f.Values = append(f.Values, make([]string, spareListFields)...)
		}
		out = append(out, f)
	}
	return out
}

func valueString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// formValues reads the values of params from the form, typed as each
// param declares. A value that does not read as its type is sent as the
// text it is, so the API refuses it with its own message; an empty
// optional field is left out (its default applies), a fixed one too.
func formValues(r *http.Request, params []plan.Param, prefix string) map[string]any {
	out := map[string]any{}
	for _, p := range params {
		if p.Fixed {
			continue
		}
		kind := plan.KindString
		if p.Type != nil {
			kind = p.Type.Kind
		}
		name := prefix + p.Name
		raw := r.PostFormValue(name)
		if kind == plan.KindList {
			raw = strings.Join(nonEmpty(r.PostForm[name]), "\n")
		}
		if kind == plan.KindBool && len(p.Enum) == 0 {
			out[p.Name] = raw == "true"
			continue
		}
		if raw == "" && (p.HasDefault || !p.Required) {
			continue
		}
		if kind == plan.KindList {
			var elem plan.Kind = plan.KindString
			if p.Type != nil && p.Type.Elem != nil {
				elem = p.Type.Elem.Kind
			}
			list := []any{}
			for _, v := range nonEmpty(r.PostForm[name]) {
				list = append(list, typed(elem, v))
			}
			out[p.Name] = list
			continue
		}
		out[p.Name] = typed(kind, raw)
	}
	return out
}

// nonEmpty is the values of a repeated field, trimmed, empty ones left out.
func nonEmpty(values []string) []string {
	var out []string
	for _, v := range values {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func typed(kind plan.Kind, raw string) any {
	switch kind {
	case plan.KindInt:
		if n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64); err == nil {
			return n
		}
	case plan.KindNumber:
		if n, err := strconv.ParseFloat(strings.TrimSpace(raw), 64); err == nil {
			return n
		}
	case plan.KindBool:
		if b, err := strconv.ParseBool(raw); err == nil {
			return b
		}
	case plan.KindMap, plan.KindObject, plan.KindAny:
		var v any
		if err := json.Unmarshal([]byte(raw), &v); err == nil {
			return v
		}
	}
	return raw
}
