package plan

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ParamError lists every problem with the params given to a run (or
// the inputs given to an approval: Noun "input").
type ParamError struct {
	Problems []string
	// Valueless are the problems as they read without the values given
	// (Coerce and the constraints quote them), for records that must
	// not hold them.
	Valueless []string
	Noun      string // param (empty) or input
}

func (e *ParamError) Error() string { return e.header() + strings.Join(e.Problems, "; ") }

// WithoutValues is Error without the values given.
func (e *ParamError) WithoutValues() string { return e.header() + strings.Join(e.Valueless, "; ") }

func (e *ParamError) header() string {
	if e.Noun == "" {
		return "invalid params: "
	}
	return "invalid " + e.Noun + "s: "
}

// BindInputs is BindParams for the inputs an approval declares: its
// problems name inputs.
func BindInputs(decl []Param, given map[string]any) (map[string]any, error) {
	p := &Plan{Params: decl}
	return p.bind(given, "input")
}

// BindParams checks the params given to a run against the plan: unknown
// names, missing required params, fixed params given, types and
// constraints. It returns the params with defaults filled in, or a
// *ParamError listing every problem.
func (p *Plan) BindParams(given map[string]any) (map[string]any, error) { return p.bind(given, "") }

func (p *Plan) bind(given map[string]any, noun string) (map[string]any, error) {
	var probs, valueless []string
	n := noun
	if n == "" {
		n = "param"
	}
	// problem adds a problem; bare is its text without the value given.
	problem := func(msg, bare string) {
		probs, valueless = append(probs, msg), append(valueless, bare)
	}
	out := make(map[string]any, len(p.Params))
	known := map[string]bool{}
	for i := range p.Params {
		pp := &p.Params[i]
		known[pp.Name] = true
		v, ok := given[pp.Name]
		if pp.Fixed {
			// The author chose the value: a run may not, not even to repeat it.
			if ok {
				msg := fmt.Sprintf("%s %q is fixed by the runbook and cannot be set", n, pp.Name)
				problem(msg, msg)
			}
			out[pp.Name] = pp.Default
			continue
		}
		if !ok || v == nil {
			switch {
			case pp.HasDefault:
				out[pp.Name] = pp.Default
			case pp.Required:
				msg := fmt.Sprintf("%s %q is required", n, pp.Name)
				problem(msg, msg)
			}
			continue
		}
		cv, err := Coerce(v, pp.Type)
		if err != nil {
			problem(fmt.Sprintf("%s %q: %v", n, pp.Name, err), fmt.Sprintf("%s %q: the value is not of type %s", n, pp.Name, pp.Type))
			continue
		}
		for _, msg := range CheckConstraints(pp, cv) {
			problem(fmt.Sprintf("%s %q: %s", n, pp.Name, msg), fmt.Sprintf("%s %q: the value is outside its constraints", n, pp.Name))
		}
		out[pp.Name] = cv
	}
	names := make([]string, 0, len(given))
	for name := range given {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !known[name] {
			msg := fmt.Sprintf("unknown %s %q", n, name)
			var all []string
			for _, pp := range p.Params {
				all = append(all, pp.Name)
			}
			if h := Suggest(name, all); h != "" {
				msg += " (" + h + ")"
			}
			problem(msg, msg)
		}
	}
	if len(probs) > 0 {
		return nil, &ParamError{Problems: probs, Valueless: valueless, Noun: noun}
	}
	return out, nil
}

// ParseParamArgs turns command-line "name=value" pairs into param values,
// reading each value by the declared type: numbers and booleans as such,
// lists as JSON or comma-separated, maps as JSON.
func (p *Plan) ParseParamArgs(args []string) (map[string]any, error) {
	out := map[string]any{}
	for _, a := range args {
		name, raw, ok := strings.Cut(a, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("param %q: want name=value", a)
		}
		var t *Type = AnyType
		for _, pp := range p.Params {
			if pp.Name == name {
				t = pp.Type
			}
		}
		v, err := parseArg(raw, t)
		if err != nil {
			return nil, fmt.Errorf("param %q: %w", name, err)
		}
		out[name] = v
	}
	return out, nil
}

func parseArg(raw string, t *Type) (any, error) {
	switch t.Kind {
	case KindInt:
		return strconv.ParseInt(raw, 10, 64)
	case KindNumber:
		return strconv.ParseFloat(raw, 64)
	case KindBool:
		return strconv.ParseBool(raw)
	case KindList:
		if strings.HasPrefix(strings.TrimSpace(raw), "[") {
			return parseJSONArg(raw)
		}
		var out []any
		for _, part := range strings.Split(raw, ",") {
			v, err := parseArg(strings.TrimSpace(part), t.Elem)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case KindMap, KindObject:
		return parseJSONArg(raw)
	case KindAny:
		if v, err := parseJSONArg(raw); err == nil {
			return v, nil
		}
	}
	return raw, nil
}

func parseJSONArg(raw string) (any, error) {
	var v any
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	return normalizeJSON(v), nil
}
