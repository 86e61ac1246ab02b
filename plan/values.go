package plan

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Values in plans and at trigger time are JSON-like Go values: nil, bool,
// int64, float64, string, []any and map[string]any. Durations travel as
// strings ("15m", "7d") and are parsed where they are used.

// ValueProblem is one reason a value does not fit its type, at a sub-path
// ("" for the value itself, "[2]" or "key" below it).
type ValueProblem struct {
	Sub  Path
	Msg  string
	Kind ProblemKind
}

// ProblemKind classifies a ValueProblem, so lint can give it a diagnostic code.
type ProblemKind int

const (
	// ProblemType is a value of the wrong type.
	ProblemType ProblemKind = iota
	// ProblemInvalid is a value of the right type that is not acceptable.
	ProblemInvalid
	// ProblemUnknownField is a key the object type does not have.
	ProblemUnknownField
	// ProblemRequired is a required field left out.
	ProblemRequired
)

// Coerce converts v to the canonical form of type t: ints where t is int
// (from whole floats, as JSON gives them), floats for numbers, normalised
// durations. It returns every problem found.
func Coerce(v any, t *Type) (any, error) {
	var probs []ValueProblem
	out := CoerceProblems(v, t, "", &probs)
	if len(probs) == 0 {
		return out, nil
	}
	msgs := make([]string, len(probs))
	for i, p := range probs {
		if p.Sub != "" {
			msgs[i] = strings.TrimPrefix(string(p.Sub), ".") + ": " + p.Msg
		} else {
			msgs[i] = p.Msg
		}
	}
	return nil, fmt.Errorf("%s", strings.Join(msgs, "; "))
}

// CoerceProblems is Coerce for a value at sub below where its problems are
// reported: it appends each to probs, so lint can place every one.
func CoerceProblems(v any, t *Type, sub Path, probs *[]ValueProblem) any {
	fail := func(kind ProblemKind, format string, args ...any) any {
		*probs = append(*probs, ValueProblem{Sub: sub, Msg: fmt.Sprintf(format, args...), Kind: kind})
		return nil
	}
	if t == nil || t.Kind == KindAny {
		return v
	}
	if v == nil {
		return fail(ProblemType, "expected %s, got null", describeType(t))
	}
	switch t.Kind {
	case KindString:
		if s, ok := v.(string); ok {
			return s
		}
	case KindBool:
		if b, ok := v.(bool); ok {
			return b
		}
	case KindInt:
		switch n := v.(type) {
		case int64:
			return n
		case int:
			return int64(n)
		case float64:
			if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
				return int64(n)
			}
			return fail(ProblemType, "expected an integer, got %v", n)
		}
	case KindNumber:
		switch n := v.(type) {
		case int64:
			return float64(n)
		case int:
			return float64(n)
		case float64:
			return n
		}
	case KindDuration:
		if s, ok := v.(string); ok {
			d, err := ParseDuration(s)
			if err != nil {
				return fail(ProblemInvalid, "%v", err)
			}
			return FormatDuration(d)
		}
	case KindTimestamp:
		if s, ok := v.(string); ok {
			return s
		}
	case KindList:
		l, ok := v.([]any)
		if !ok {
			break
		}
		out := make([]any, len(l))
		for i, e := range l {
			out[i] = CoerceProblems(e, t.Elem, sub.Index(i), probs)
		}
		return out
	case KindMap:
		m, ok := v.(map[string]any)
		if !ok {
			break
		}
		out := make(map[string]any, len(m))
		for _, k := range SortedKeys(m) {
			out[k] = CoerceProblems(m[k], t.Elem, sub.Key(k), probs)
		}
		return out
	case KindObject:
		m, ok := v.(map[string]any)
		if !ok {
			break
		}
		out := make(map[string]any, len(m))
		for _, k := range SortedKeys(m) {
			f, known := t.Field(k)
			if !known {
				*probs = append(*probs, ValueProblem{Sub: sub.Key(k), Msg: unknownKeyMessage(k, t.FieldNames()), Kind: ProblemUnknownField})
				continue
			}
			out[k] = CoerceProblems(m[k], f.Type, sub.Key(k), probs)
		}
		for _, f := range t.Fields {
			if _, ok := m[f.Name]; !ok && f.Required {
				*probs = append(*probs, ValueProblem{Sub: sub, Msg: fmt.Sprintf("missing required field %q", f.Name), Kind: ProblemRequired})
			}
		}
		return out
	}
	return fail(ProblemType, "expected %s, got %s", describeType(t), describeValue(v))
}

func unknownKeyMessage(k string, names []string) string {
	msg := fmt.Sprintf("unknown field %q", k)
	if h := Suggest(k, names); h != "" {
		msg += " (" + h + ")"
	}
	return msg
}

func describeType(t *Type) string {
	switch t.Kind {
	case KindString:
		return "a string"
	case KindInt:
		return "an integer"
	case KindNumber:
		return "a number"
	case KindBool:
		return "true or false"
	case KindDuration:
		return "a duration such as 15m"
	case KindTimestamp:
		return "an RFC 3339 timestamp"
	case KindList:
		return "a list"
	case KindMap, KindObject:
		return "a mapping"
	}
	return "a value"
}

func describeValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int, int64:
		return "an integer"
	case float64:
		if v == math.Trunc(v) {
			return "an integer"
		}
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("%T", v)
}

func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
