package plan

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
)

// checkConstraints checks a value of a param's type against its enum,
// pattern, min and max; list params apply them to each item.
func CheckConstraints(p *Param, v any) []string {
	if l, ok := v.([]any); ok && p.Type.Kind == KindList {
		var msgs []string
		for i, e := range l {
			for _, m := range CheckConstraints(&Param{Type: p.Type.Elem, Enum: p.Enum, Pattern: p.Pattern, Min: p.Min, Max: p.Max}, e) {
				msgs = append(msgs, fmt.Sprintf("item %d: %s", i, m))
			}
		}
		return msgs
	}
	var msgs []string
	if len(p.Enum) > 0 && !slices.ContainsFunc(p.Enum, func(e any) bool { return equalValues(e, v) }) {
		msgs = append(msgs, fmt.Sprintf("%s is not one of %s", formatValue(v), formatValues(p.Enum)))
	}
	if s, ok := v.(string); ok && p.Pattern != "" {
		if re, err := regexp.Compile(p.Pattern); err == nil && !re.MatchString(s) {
			msgs = append(msgs, fmt.Sprintf("%q does not match pattern %s", s, p.Pattern))
		}
	}
	if f, ok := asFloat(v); ok {
		if p.Min != nil && f < *p.Min {
			msgs = append(msgs, fmt.Sprintf("%s is less than min %v", formatValue(v), *p.Min))
		}
		if p.Max != nil && f > *p.Max {
			msgs = append(msgs, fmt.Sprintf("%s is more than max %v", formatValue(v), *p.Max))
		}
	}
	return msgs
}

func asFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

func equalValues(a, b any) bool {
	fa, aok := asFloat(a)
	fb, bok := asFloat(b)
	if aok && bok {
		return fa == fb
	}
	return fmt.Sprint(a) == fmt.Sprint(b)
}

func formatValue(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	if f, ok := v.(float64); ok && f == math.Trunc(f) {
		return fmt.Sprintf("%.0f", f)
	}
	return fmt.Sprint(v)
}

func formatValues(vs []any) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = formatValue(v)
	}
	return strings.Join(parts, ", ")
}
