package plan

import (
	"encoding/json"
	"fmt"
)

// Value is a compiled input value: a literal, a whole-string expression
// (typed), an interpolated template (a string), or a list or map of values.
type Value struct {
	Lit  any
	Expr *Expr
	Tmpl []TmplPart
	List []*Value
	Map  map[string]*Value
	Kind ValueKind
}

// TmplPart is text or an expression of an interpolated template.
type TmplPart struct {
	Text string `json:"text,omitempty"`
	Expr *Expr  `json:"expr,omitempty"`
}

// ValueKind says which of Value's fields holds the value.
type ValueKind uint8

const (
	ValueLit ValueKind = iota
	ValueExpr
	ValueTmpl
	ValueList
	ValueMap
)

// LitValue returns a literal Value.
func LitValue(v any) *Value { return &Value{Lit: v} }

// IsLiteral reports whether the value holds no expression.
func (v *Value) IsLiteral() bool { return v.Kind == ValueLit }

// IsExpr reports whether the value is one whole expression.
func (v *Value) IsExpr() bool { return v.Kind == ValueExpr }

// IsTemplate reports whether the value is an interpolated string.
func (v *Value) IsTemplate() bool { return v.Kind == ValueTmpl }

// IsList reports whether the value is a list of values.
func (v *Value) IsList() bool { return v.Kind == ValueList }

// IsMap reports whether the value is a map of values.
func (v *Value) IsMap() bool { return v.Kind == ValueMap }

// Exprs calls fn for every expression in the value.
func (v *Value) Exprs(fn func(*Expr)) {
	switch v.Kind {
	case ValueExpr:
		fn(v.Expr)
	case ValueTmpl:
		for _, p := range v.Tmpl {
			if p.Expr != nil {
				fn(p.Expr)
			}
		}
	case ValueList:
		for _, e := range v.List {
			e.Exprs(fn)
		}
	case ValueMap:
		for _, k := range SortedKeys(v.Map) {
			v.Map[k].Exprs(fn)
		}
	}
}

type valueJSON struct {
	Lit  *json.RawMessage  `json:"lit,omitempty"`
	Expr *Expr             `json:"expr,omitempty"`
	Tmpl []TmplPart        `json:"tmpl,omitempty"`
	List []*Value          `json:"list,omitempty"`
	Map  map[string]*Value `json:"map,omitempty"`
}

// MarshalJSON writes exactly one of lit, expr, tmpl, list or map.
func (v *Value) MarshalJSON() ([]byte, error) {
	var j valueJSON
	switch v.Kind {
	case ValueLit:
		b, err := json.Marshal(v.Lit)
		if err != nil {
			return nil, err
		}
		raw := json.RawMessage(b)
		j.Lit = &raw
	case ValueExpr:
		j.Expr = v.Expr
	case ValueTmpl:
		j.Tmpl = v.Tmpl
	case ValueList:
		j.List = v.List
		if j.List == nil {
			j.List = []*Value{}
		}
	case ValueMap:
		j.Map = v.Map
		if j.Map == nil {
			j.Map = map[string]*Value{}
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (v *Value) UnmarshalJSON(b []byte) error {
	var j valueJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*v = Value{}
	switch {
	case j.Expr != nil:
		v.Kind, v.Expr = ValueExpr, j.Expr
	case j.Tmpl != nil:
		v.Kind, v.Tmpl = ValueTmpl, j.Tmpl
	case j.List != nil:
		v.Kind, v.List = ValueList, j.List
	case j.Map != nil:
		v.Kind, v.Map = ValueMap, j.Map
	case j.Lit != nil:
		v.Kind = ValueLit
		if err := json.Unmarshal(*j.Lit, &v.Lit); err != nil {
			return err
		}
		v.Lit = normalizeJSON(v.Lit)
	default:
		return fmt.Errorf("value: none of lit, expr, tmpl, list, map")
	}
	return nil
}

// normalizeJSON turns whole float64s that JSON decoding produced back into
// int64, so a literal 3 stays an int after a round trip.
func normalizeJSON(v any) any {
	return rebuildPure(v, func(v any) any {
		if f, ok := v.(float64); ok && f == float64(int64(f)) {
			return int64(f)
		}
		return v
	})
}
