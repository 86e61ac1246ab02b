package runbooks

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
	kind valueKind
}

// TmplPart is text or an expression of an interpolated template.
type TmplPart struct {
	Text string `json:"text,omitempty"`
	Expr *Expr  `json:"expr,omitempty"`
}

type valueKind uint8

const (
	valueLit valueKind = iota
	valueExpr
	valueTmpl
	valueList
	valueMap
)

// LitValue returns a literal Value.
func LitValue(v any) *Value { return &Value{Lit: v} }

// IsLiteral reports whether the value holds no expression.
func (v *Value) IsLiteral() bool { return v.kind == valueLit }

// IsExpr reports whether the value is one whole expression.
func (v *Value) IsExpr() bool { return v.kind == valueExpr }

// IsTemplate reports whether the value is an interpolated string.
func (v *Value) IsTemplate() bool { return v.kind == valueTmpl }

// IsList reports whether the value is a list of values.
func (v *Value) IsList() bool { return v.kind == valueList }

// IsMap reports whether the value is a map of values.
func (v *Value) IsMap() bool { return v.kind == valueMap }

// Exprs calls fn for every expression in the value.
func (v *Value) Exprs(fn func(*Expr)) {
	switch v.kind {
	case valueExpr:
		fn(v.Expr)
	case valueTmpl:
		for _, p := range v.Tmpl {
			if p.Expr != nil {
				fn(p.Expr)
			}
		}
	case valueList:
		for _, e := range v.List {
			e.Exprs(fn)
		}
	case valueMap:
		for _, k := range sortedKeys(v.Map) {
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
	switch v.kind {
	case valueLit:
		b, err := json.Marshal(v.Lit)
		if err != nil {
			return nil, err
		}
		raw := json.RawMessage(b)
		j.Lit = &raw
	case valueExpr:
		j.Expr = v.Expr
	case valueTmpl:
		j.Tmpl = v.Tmpl
	case valueList:
		j.List = v.List
		if j.List == nil {
			j.List = []*Value{}
		}
	case valueMap:
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
		v.kind, v.Expr = valueExpr, j.Expr
	case j.Tmpl != nil:
		v.kind, v.Tmpl = valueTmpl, j.Tmpl
	case j.List != nil:
		v.kind, v.List = valueList, j.List
	case j.Map != nil:
		v.kind, v.Map = valueMap, j.Map
	case j.Lit != nil:
		v.kind = valueLit
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
	switch v := v.(type) {
	case float64:
		if v == float64(int64(v)) {
			return int64(v)
		}
	case []any:
		for i := range v {
			v[i] = normalizeJSON(v[i])
		}
	case map[string]any:
		for k := range v {
			v[k] = normalizeJSON(v[k])
		}
	}
	return v
}
