package plan

// rebuild copies v, a value of lists and maps at any depth, converting each
// node bottom-up with fn: fn sees a list or a map with its elements already
// converted, and every other value as it is. It is the one recursion the
// value conversions share (EncodeVars, DecodeVars, JSONValue, CEL inputs);
// each says only what it does to one node.
func rebuild(v any, fn func(any) (any, error)) (any, error) {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			c, err := rebuild(e, fn)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return fn(out)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			c, err := rebuild(e, fn)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return fn(out)
	}
	return fn(v)
}

// rebuildPure is rebuild with a conversion that cannot fail.
func rebuildPure(v any, fn func(any) any) any {
	out, _ := rebuild(v, func(v any) (any, error) { return fn(v), nil })
	return out
}
