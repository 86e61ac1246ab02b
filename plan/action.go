package plan

import "sort"

// ActionSpec describes an action: what it does, the inputs it takes under
// `with`, and the outputs later steps may read. The compiler checks every
// action step against its spec; the docs and JSON Schema are generated from it.
type ActionSpec struct {
	Name        string  `json:"name"`
	Description string  `json:"description"`
	Inputs      []Field `json:"inputs"`
	Outputs     []Field `json:"outputs"`
	// ExactlyOne lists groups of inputs of which exactly one must be given.
	ExactlyOne [][]string `json:"exactlyOne,omitempty"`
	// AtMostOne lists groups of inputs of which at most one may be given.
	AtMostOne [][]string `json:"atMostOne,omitempty"`
	// Needs lists inputs that mean something only with another input's
	// value.
	Needs []InputNeeds `json:"needs,omitempty"`
	// Local marks a cheap action without side effects beyond the worker,
	// which runs as a Temporal local activity when the run allows it.
	Local bool `json:"local,omitempty"`
	// Heartbeats marks an action that heartbeats every few seconds for as
	// long as it runs, so a worker lost in the middle of it is noticed in
	// seconds rather than at the step's timeout.
	Heartbeats bool `json:"heartbeats,omitempty"`
	// Errors lists every error type the action fails with, which is what
	// retry.nonRetryable may name. Nil means unknown: any name is accepted.
	Errors []string `json:"errors,omitempty"`
}

// InputNeeds says that Input, given other than its default, needs the
// string input Other to be Value (given so, or by default).
type InputNeeds struct {
	Input string `json:"input"`
	Other string `json:"other"`
	Value string `json:"value"`
}

// Facts is what a plan records of the action for the interpreter.
func (s *ActionSpec) Facts() ActionFacts {
	return ActionFacts{Local: s.Local, Heartbeats: s.Heartbeats}
}

// Input returns the named input field.
func (s *ActionSpec) Input(name string) (Field, bool) { return ObjectOf(s.Inputs...).Field(name) }

// OutputType is the object type of the action's outputs.
func (s *ActionSpec) OutputType() *Type { return ObjectOf(s.Outputs...) }

// Catalog is the set of actions the compiler checks action steps against.
// The activities package provides the real one.
type Catalog interface {
	Action(name string) (*ActionSpec, bool)
	Actions() []*ActionSpec // sorted by name
}

// SpecCatalog is a Catalog over a fixed list of specs.
type SpecCatalog map[string]*ActionSpec

// NewCatalog builds a Catalog from specs; a later spec with the same name wins.
func NewCatalog(specs ...*ActionSpec) SpecCatalog {
	c := SpecCatalog{}
	for _, s := range specs {
		c[s.Name] = s
	}
	return c
}

// Action implements Catalog.
func (c SpecCatalog) Action(name string) (*ActionSpec, bool) {
	s, ok := c[name]
	return s, ok
}

// Actions implements Catalog.
func (c SpecCatalog) Actions() []*ActionSpec {
	out := make([]*ActionSpec, 0, len(c))
	for _, s := range c {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
