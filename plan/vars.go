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
		out[k] = rebuildPure(v, encodeNode)
	}
	return out
}

// encodeNode tags a duration or a timestamp.
func encodeNode(v any) any {
	switch x := v.(type) {
	case time.Duration:
		return map[string]any{tagDuration: FormatDuration(x)}
	case time.Time:
		return map[string]any{tagTimestamp: x.UTC().Format(time.RFC3339Nano)}
	}
	return v
}

// DecodeVars reverses EncodeVars on vars that went through JSON, turning
// whole float64s back into int64s as well.
func DecodeVars(vars map[string]any) (Vars, error) {
	out := make(Vars, len(vars))
	for k, v := range vars {
		d, err := rebuild(v, decodeNode)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = d
	}
	return out, nil
}

// decodeNode reads a tagged duration or timestamp back, and turns a whole
// float64 back into an int64.
func decodeNode(v any) (any, error) {
	switch x := v.(type) {
	case float64:
		if x == float64(int64(x)) {
			return int64(x), nil
		}
	case map[string]any:
		if s, ok := x[tagDuration].(string); ok && len(x) == 1 {
			return ParseDuration(s)
		}
		if s, ok := x[tagTimestamp].(string); ok && len(x) == 1 {
			return time.Parse(time.RFC3339Nano, s)
		}
	}
	return v, nil
}

// JSONValue turns an evaluated value into plain JSON: durations become
// strings such as "15m", timestamps RFC 3339 strings.
func JSONValue(v any) any {
	return rebuildPure(v, func(v any) any {
		switch x := v.(type) {
		case time.Duration:
			return FormatDuration(x)
		case time.Time:
			return x.UTC().Format(time.RFC3339Nano)
		}
		return v
	})
}
