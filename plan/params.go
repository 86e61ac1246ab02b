package plan

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ParamError lists every problem with the params given to a run.
type ParamError struct {
	Problems []string
}

func (e *ParamError) Error() string {
	return "invalid params: " + strings.Join(e.Problems, "; ")
}

// BindParams checks the params given to a run against the plan: unknown
// names, missing required params, fixed params given, types and
// constraints. It returns the params with defaults filled in, or a
// *ParamError listing every problem.
func (p *Plan) BindParams(given map[string]any) (map[string]any, error) {
	var probs []string
	out := make(map[string]any, len(p.Params))
	known := map[string]bool{}
	for i := range p.Params {
		pp := &p.Params[i]
		known[pp.Name] = true
		v, ok := given[pp.Name]
		if pp.Fixed {
			// The author chose the value: a run may not, not even to repeat it.
			if ok {
				probs = append(probs, fmt.Sprintf("param %q is fixed by the runbook and cannot be set", pp.Name))
			}
			out[pp.Name] = pp.Default
			continue
		}
		if !ok || v == nil {
			switch {
			case pp.HasDefault:
				out[pp.Name] = pp.Default
			case pp.Required:
				probs = append(probs, fmt.Sprintf("param %q is required", pp.Name))
			}
			continue
		}
		cv, err := Coerce(v, pp.Type)
		if err != nil {
			probs = append(probs, fmt.Sprintf("param %q: %v", pp.Name, err))
			continue
		}
		for _, msg := range CheckConstraints(pp, cv) {
			probs = append(probs, fmt.Sprintf("param %q: %s", pp.Name, msg))
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
			msg := fmt.Sprintf("unknown param %q", name)
			var all []string
			for _, pp := range p.Params {
				all = append(all, pp.Name)
			}
			if h := Suggest(name, all); h != "" {
				msg += " (" + h + ")"
			}
			probs = append(probs, msg)
		}
	}
	if len(probs) > 0 {
		return nil, &ParamError{Problems: probs}
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
