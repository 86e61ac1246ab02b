package plan

import (
	"reflect"
	"slices"
	"testing"
)

// TestChildrenCoverEveryStepList: every field of Step (and of what it
// points to) that holds steps is a section Children yields, so a new nesting
// cannot be missed by the walkers.
func TestChildrenCoverEveryStepList(t *testing.T) {
	lists := map[string]bool{}
	var find func(rt reflect.Type, prefix string, depth int)
	find = func(rt reflect.Type, prefix string, depth int) {
		for i := 0; i < rt.NumField(); i++ {
			f := rt.Field(i)
			if f.Type == reflect.TypeOf([]*Step(nil)) {
				lists[prefix+f.Name] = true
			} else if f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Struct && f.Type.Elem() != reflect.TypeOf(Step{}) && depth == 0 {
				find(f.Type.Elem(), prefix+f.Name+".", 1)
			}
		}
	}
	find(reflect.TypeOf(Step{}), "", 0)
	leaf := func(id string) *Step { return &Step{ID: id} }
	s := &Step{ID: "s", Steps: []*Step{leaf("a")}, OnError: []*Step{leaf("b")}, Compensate: &Compensate{Steps: []*Step{leaf("c")}}}
	got := map[string]bool{}
	for _, sec := range s.Children() {
		got[sec.Field] = true
	}
	want := map[string]bool{"steps": lists["Steps"], "onError": lists["OnError"], "compensate.steps": lists["Compensate.Steps"]}
	if len(lists) != 3 || !reflect.DeepEqual(got, want) {
		t.Errorf("step lists of Step: %v; Children yields %v", lists, got)
	}
}

// TestAllWalksInDocumentOrder: All visits steps, onFailure, finally, each
// step before what it holds; Walk stops when told; Step finds any of them.
func TestAllWalksInDocumentOrder(t *testing.T) {
	leaf := func(id string) *Step { return &Step{ID: id} }
	p := &Plan{
		Steps: []*Step{
			{ID: "loop", Kind: StepForEach, Steps: []*Step{leaf("body")}, OnError: []*Step{leaf("rescue")}},
			{ID: "act", Kind: StepAction, Compensate: &Compensate{Steps: []*Step{leaf("undo")}}},
		},
		OnFailure: []*Step{leaf("page")},
		Finally:   []*Step{{ID: "group", Kind: StepGroup, Steps: []*Step{leaf("tidy")}}},
	}
	var order []string
	for s := range p.All() {
		order = append(order, s.ID)
	}
	if want := []string{"loop", "body", "rescue", "act", "undo", "page", "group", "tidy"}; !slices.Equal(order, want) {
		t.Errorf("All: %v, want %v", order, want)
	}
	var walked []string
	p.Walk(func(s *Step) bool { walked = append(walked, s.ID); return s.ID != "rescue" })
	if want := []string{"loop", "body", "rescue"}; !slices.Equal(walked, want) {
		t.Errorf("Walk stopping at rescue: %v", walked)
	}
	for _, id := range order {
		if s := p.Step(id); s == nil || s.ID != id {
			t.Errorf("Step(%q) = %v", id, s)
		}
	}
	if p.Step("nope") != nil {
		t.Error("Step found a step that is not there")
	}
	secs := p.Steps[0].Children()
	if len(secs) != 2 || secs[0].Runs != RunsPerItem || secs[1].Runs != RunsOnItemError || p.Steps[1].Children()[0].Runs != RunsOnUndo {
		t.Errorf("sections' Runs: %+v %+v", secs, p.Steps[1].Children())
	}
}
