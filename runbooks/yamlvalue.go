package runbooks

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/opsrunbook/runbook/plan"

	"gopkg.in/yaml.v3"
)

// valueError is a problem nodeValue found, with its diagnostic code.
type valueError struct {
	code Code
	msg  string
}

func (e *valueError) Error() string { return e.msg }

func valueErrorf(code Code, format string, args ...any) error {
	return &valueError{code: code, msg: fmt.Sprintf(format, args...)}
}

// codeOf gives the code of an error from nodeValue.
func codeOf(err error) Code {
	if ve, ok := err.(*valueError); ok {
		return ve.code
	}
	return CodeInvalidValue
}

// nodeValue converts a YAML node to a JSON-like Go value and records the
// position of every sub-value so problems can point at it.
func nodeValue(n *yaml.Node, sub plan.Path, pos map[plan.Path]plan.Pos) (any, error) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if pos != nil {
		pos[sub] = posOf(n)
	}
	switch n.Kind {
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return nil, nil
		case "!!bool":
			return strings.EqualFold(n.Value, "true"), nil
		case "!!int":
			i, err := strconv.ParseInt(n.Value, 0, 64)
			if err != nil {
				return nil, valueErrorf(CodeInvalidValue, "integer %s is out of range", n.Value)
			}
			return i, nil
		case "!!float":
			var f float64
			if err := n.Decode(&f); err != nil {
				return nil, valueErrorf(CodeInvalidValue, "invalid number %s", n.Value)
			}
			return f, nil
		case "!!str":
			return n.Value, nil
		}
		return nil, valueErrorf(CodeTypeMismatch, "unsupported YAML value of type %s", n.Tag)
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, c := range n.Content {
			v, err := nodeValue(c, sub.Index(i), pos)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
				return nil, valueErrorf(CodeTypeMismatch, "mapping keys must be plain strings")
			}
			if _, dup := out[k.Value]; dup {
				return nil, valueErrorf(CodeDuplicate, "duplicate key %q", k.Value)
			}
			v, err := nodeValue(n.Content[i+1], sub.Key(k.Value), pos)
			if err != nil {
				return nil, err
			}
			out[k.Value] = v
		}
		return out, nil
	}
	return nil, valueErrorf(CodeTypeMismatch, "unsupported YAML node")
}
