package plan

import (
	"fmt"
	"time"
)

// Values cross process boundaries (workflow history, activity inputs) as
// JSON. EncodeVars keeps the two types JSON lacks by tagging them:
// {"$duration": "1h"} and {"$timestamp": "2026-11-26T02:00:00Z"}.

const (
	tagDuration  = "$duration"
	tagTimestamp = "$timestamp"
)

// EncodeVars returns vars with durations and timestamps tagged.
func EncodeVars(vars map[string]any) map[string]any {
	out := make(map[string]any, len(vars))
	for k, v := range vars {
		out[k] = encodeValue(v)
	}
	return out
}

func encodeValue(v any) any {
	switch x := v.(type) {
	case time.Duration:
		return map[string]any{tagDuration: FormatDuration(x)}
	case time.Time:
		return map[string]any{tagTimestamp: x.UTC().Format(time.RFC3339Nano)}
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = encodeValue(e)
		}
		return out
	case map[string]any:
		return EncodeVars(x)
	}
	return v
}

// DecodeVars reverses EncodeVars on vars that went through JSON, turning
// whole float64s back into int64s as well.
func DecodeVars(vars map[string]any) (Vars, error) {
	out := make(Vars, len(vars))
	for k, v := range vars {
		d, err := decodeValue(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = d
	}
	return out, nil
}

func decodeValue(v any) (any, error) {
	switch x := v.(type) {
	case float64:
		if x == float64(int64(x)) {
			return int64(x), nil
		}
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			d, err := decodeValue(e)
			if err != nil {
				return nil, err
			}
			out[i] = d
		}
		return out, nil
	case map[string]any:
		if s, ok := x[tagDuration].(string); ok && len(x) == 1 {
			return ParseDuration(s)
		}
		if s, ok := x[tagTimestamp].(string); ok && len(x) == 1 {
			return time.Parse(time.RFC3339Nano, s)
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			d, err := decodeValue(e)
			if err != nil {
				return nil, err
			}
			out[k] = d
		}
		return out, nil
	}
	return v, nil
}

// JSONValue turns an evaluated value into plain JSON: durations become
// strings such as "15m", timestamps RFC 3339 strings.
func JSONValue(v any) any {
	switch x := v.(type) {
	case time.Duration:
		return FormatDuration(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = JSONValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = JSONValue(e)
		}
		return out
	}
	return v
}
