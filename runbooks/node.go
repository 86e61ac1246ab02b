package runbooks

import (
	"strconv"

	"github.com/opsrunbook/runbook/plan"

	"gopkg.in/yaml.v3"
)

// The leaf types below keep the position of every value so that lint and
// compile problems point at the exact line and column.

// String is a YAML string. Durations, expressions and names are Strings too.
type String struct {
	Value string
	Pos   plan.Pos
	Set   bool
	bad   bool // given, but not a string: reported once, then ignored
	style yaml.Style
	multi bool // the scalar spans several lines
}

// Int is a YAML integer.
type Int struct {
	Value int64
	Pos   plan.Pos
	Set   bool
	bad   bool // given, but not an integer: reported once, then ignored
}

// Number is a YAML integer or float.
type Number struct {
	Value float64
	Pos   plan.Pos
	Set   bool
	bad   bool // given, but not a number: reported once, then ignored
}

// Bool is a YAML boolean.
type Bool struct {
	Value bool
	Pos   plan.Pos
	Set   bool
}

// Raw is any YAML value, checked later against a type known only at lint
// time (param defaults, action inputs, schedule params).
type Raw struct {
	Node *yaml.Node
	Pos  plan.Pos
}

// Set reports whether the value was given.
func (r Raw) Set() bool { return r.Node != nil }

// List is a YAML sequence whose presence is known even when empty.
type List[T any] struct {
	Items []T
	Pos   plan.Pos
	Set   bool
	bad   bool
}

// Map is a YAML mapping that keeps its keys' order and positions.
type Map[T any] struct {
	Entries []Entry[T]
	Pos     plan.Pos
	Set     bool
}

// Entry is one key of a Map.
type Entry[T any] struct {
	Key    string
	KeyPos plan.Pos
	Value  T
}

// Len returns the number of entries.
func (m Map[T]) Len() int { return len(m.Entries) }

func posOf(n *yaml.Node) plan.Pos { return plan.Pos{Line: n.Line, Col: n.Column} }

func (s *String) decodeNode(n *yaml.Node, d *decoder, path plan.Path) {
	s.Pos, s.Set, s.style = posOf(n), true, n.Style
	if !d.scalar(n, path, "a string", "!!str") {
		s.bad = true
		return
	}
	s.Value = n.Value
	s.multi = n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0
}

func (i *Int) decodeNode(n *yaml.Node, d *decoder, path plan.Path) {
	i.Pos, i.Set = posOf(n), true
	if !d.scalar(n, path, "an integer", "!!int") {
		i.bad = true
		return
	}
	v, err := strconv.ParseInt(n.Value, 0, 64)
	if err != nil {
		d.r.errorf(CodeInvalidValue, i.Pos, path, "integer %s is out of range", n.Value)
		i.bad = true
		return
	}
	i.Value = v
}

func (f *Number) decodeNode(n *yaml.Node, d *decoder, path plan.Path) {
	f.Pos, f.Set = posOf(n), true
	if !d.scalar(n, path, "a number", "!!int", "!!float") {
		f.bad = true
		return
	}
	var n2 yaml.Node = *n
	if err := n2.Decode(&f.Value); err != nil {
		d.r.errorf(CodeInvalidValue, f.Pos, path, "invalid number %s", n.Value)
		f.bad = true
	}
}

func (b *Bool) decodeNode(n *yaml.Node, d *decoder, path plan.Path) {
	b.Pos, b.Set = posOf(n), true
	if !d.scalar(n, path, "true or false", "!!bool") {
		return
	}
	b.Value = n.Value == "true" || n.Value == "True" || n.Value == "TRUE"
}

func (r *Raw) decodeNode(n *yaml.Node, _ *decoder, _ plan.Path) {
	r.Node, r.Pos = n, posOf(n)
}
