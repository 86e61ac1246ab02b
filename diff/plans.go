package diff

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"

	"github.com/opsrunbook/runbook/plan"
)

// Changes is what changed from one plan to another.
type Changes struct {
	Steps  Set `json:"steps"`
	Params Set `json:"params"`
	// Fields are the other fields of the plan that changed (timeout,
	// schedules, triggers, secrets, outputs, ...), by their JSON names.
	Fields []string `json:"fields"`
}

// Set is what was added, removed and changed in a list of named things.
type Set struct {
	Added   []string  `json:"added"`
	Removed []string  `json:"removed"`
	Changed []Changed `json:"changed"`
}

// Changed is one thing that is in both plans but differs, with the fields
// (JSON names) that differ.
type Changed struct {
	Name   string   `json:"name"`
	Fields []string `json:"fields"`
}

// Empty says whether nothing changed.
func (c Changes) Empty() bool {
	return c.Steps.empty() && c.Params.empty() && len(c.Fields) == 0
}

func (s Set) empty() bool { return len(s.Added)+len(s.Removed)+len(s.Changed) == 0 }

// Plans compares two plans: steps by id wherever they are (steps,
// onFailure, finally, the bodies of groups, loops and parallels,
// compensations), params by name, and the plan's other fields. Where a
// step sits in the source (its line, its expressions' positions) is not a
// change; a step's child steps count as a change of the parent only when
// their ids or order change.
func Plans(from, to *plan.Plan) (Changes, error) {
	var out Changes
	var err error
	if out.Steps, err = compare(steps(from), steps(to)); err != nil {
		return out, fmt.Errorf("compare steps: %w", err)
	}
	if out.Params, err = compare(params(from), params(to)); err != nil {
		return out, fmt.Errorf("compare params: %w", err)
	}
	a, err := fields(from)
	if err != nil {
		return out, err
	}
	b, err := fields(to)
	if err != nil {
		return out, err
	}
	for _, skip := range []string{"steps", "onFailure", "finally", "params", "hash", "file"} {
		delete(a, skip)
		delete(b, skip)
	}
	out.Fields = differing(a, b)
	return out, nil
}

// named is a list of things in order, by name.
type named struct {
	names []string
	items map[string]any
}

func steps(p *plan.Plan) named {
	n := named{items: map[string]any{}}
	for s := range p.All() {
		n.names = append(n.names, s.ID)
		n.items[s.ID] = s
	}
	return n
}

func params(p *plan.Plan) named {
	n := named{items: map[string]any{}}
	for _, prm := range p.Params {
		n.names = append(n.names, prm.Name)
		n.items[prm.Name] = prm
	}
	return n
}

func compare(a, b named) (Set, error) {
	out := Set{Added: []string{}, Removed: []string{}, Changed: []Changed{}}
	for _, name := range a.names {
		if _, ok := b.items[name]; !ok {
			out.Removed = append(out.Removed, name)
		}
	}
	for _, name := range b.names {
		was, ok := a.items[name]
		if !ok {
			out.Added = append(out.Added, name)
			continue
		}
		x, err := fields(was)
		if err != nil {
			return out, err
		}
		y, err := fields(b.items[name])
		if err != nil {
			return out, err
		}
		if f := differing(x, y); len(f) > 0 {
			out.Changed = append(out.Changed, Changed{Name: name, Fields: f})
		}
	}
	return out, nil
}

// fields is v as JSON fields, without where it was written: a step's line,
// expressions' positions, and child steps only by id.
func fields(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if _, isStep := v.(*plan.Step); isStep {
		delete(m, "line")
		for _, k := range []string{"steps", "onError"} {
			m[k] = childIDs(m[k])
		}
		if c, ok := m["compensate"].(map[string]any); ok {
			c["steps"] = childIDs(c["steps"])
		}
	}
	stripPos(m)
	return m, nil
}

func childIDs(v any) any {
	list, ok := v.([]any)
	if !ok {
		return v
	}
	ids := make([]any, len(list))
	for i, s := range list {
		if m, ok := s.(map[string]any); ok {
			ids[i] = m["id"]
		}
	}
	return ids
}

// stripPos removes the source positions of expressions ({src, pos}).
func stripPos(v any) {
	switch v := v.(type) {
	case map[string]any:
		if _, ok := v["src"]; ok {
			delete(v, "pos")
		}
		for _, x := range v {
			stripPos(x)
		}
	case []any:
		for _, x := range v {
			stripPos(x)
		}
	}
}

// differing lists the keys whose values differ, sorted.
func differing(a, b map[string]any) []string {
	out := []string{}
	for k, x := range a {
		if y, ok := b[k]; !ok || !reflect.DeepEqual(x, y) {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
