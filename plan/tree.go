package plan

import (
	"fmt"
	"iter"
)

// Runs says when the steps of a section run, relative to the step that
// holds them.
type Runs int

// When sections run.
const (
	// RunsInline steps run once, as part of their step: a group's body, a
	// parallel's branches.
	RunsInline Runs = iota
	// RunsPerItem steps run once per item of a forEach: its body.
	RunsPerItem
	// RunsOnItemError steps run for a forEach item whose body failed.
	RunsOnItemError
	// RunsOnUndo steps run when the run fails after their action succeeded:
	// compensate.steps.
	RunsOnUndo
)

func (r Runs) String() string {
	switch r {
	case RunsInline:
		return "inline"
	case RunsPerItem:
		return "per item"
	case RunsOnItemError:
		return "on item error"
	case RunsOnUndo:
		return "on undo"
	}
	return fmt.Sprintf("Runs(%d)", int(r))
}

// Section is a list of steps nested directly in a step.
type Section struct {
	Field string // where it is in the plan's JSON: steps, onError, compensate.steps
	Runs  Runs
	Steps []*Step
}

// Children lists the sections directly inside s, empty ones left out, in
// this fixed order: steps (a group's or forEach's body, a parallel's
// branches), onError, compensate.steps. Every walker of a plan's step tree
// descends through it, so a new nesting is added here once.
func (s *Step) Children() []Section {
	var out []Section
	if len(s.Steps) > 0 {
		runs := RunsInline
		if s.Kind == StepForEach {
			runs = RunsPerItem
		}
		out = append(out, Section{Field: "steps", Runs: runs, Steps: s.Steps})
	}
	if len(s.OnError) > 0 {
		out = append(out, Section{Field: "onError", Runs: RunsOnItemError, Steps: s.OnError})
	}
	if s.Compensate != nil && len(s.Compensate.Steps) > 0 {
		out = append(out, Section{Field: "compensate.steps", Runs: RunsOnUndo, Steps: s.Compensate.Steps})
	}
	return out
}

// Sections lists the plan's top-level sections in the order they run:
// steps, onFailure, finally (each RunsInline).
func (p *Plan) Sections() []Section {
	return []Section{{Field: "steps", Steps: p.Steps}, {Field: "onFailure", Steps: p.OnFailure}, {Field: "finally", Steps: p.Finally}}
}

// All yields every step of the plan in document order: steps, onFailure,
// finally, each step before the sections inside it (Children).
func (p *Plan) All() iter.Seq[*Step] {
	return func(yield func(*Step) bool) {
		for _, sec := range p.Sections() {
			if !yieldAll(sec.Steps, yield) {
				return
			}
		}
	}
}

func yieldAll(list []*Step, yield func(*Step) bool) bool {
	for _, s := range list {
		if !yield(s) {
			return false
		}
		for _, sec := range s.Children() {
			if !yieldAll(sec.Steps, yield) {
				return false
			}
		}
	}
	return true
}

// Walk calls fn for every step of the plan in the order of All. It stops
// when fn returns false.
func (p *Plan) Walk(fn func(s *Step) bool) {
	for s := range p.All() {
		if !fn(s) {
			return
		}
	}
}

// Step finds a step by id anywhere in the plan.
func (p *Plan) Step(id string) *Step {
	for s := range p.All() {
		if s.ID == id {
			return s
		}
	}
	return nil
}
