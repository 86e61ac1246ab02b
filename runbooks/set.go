package runbooks

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/opsrunbook/runbook/plan"
)

// Source is the content of one runbook file.
type Source struct {
	File string
	Data []byte
}

// Result is the outcome of building one file of a set.
type Result struct {
	File        string
	Plan        *plan.Plan // nil when the file has errors
	Diagnostics Diagnostics
}

// BuildSet builds runbooks that may run each other as sub-runbooks: it
// parses them all, orders them so that a child compiles before its parents,
// refuses cycles and duplicate names, and resolves children among the set
// before falling back to opts.Runbooks. Results keep the order of srcs.
func BuildSet(srcs []Source, opts Options) []Result {
	results := make([]Result, len(srcs))
	docs := make([]*Document, len(srcs))
	byName := map[string]int{}
	for i, s := range srcs {
		results[i].File = s.File
		doc, diags := Parse(s.File, s.Data)
		results[i].Diagnostics = diags
		if doc == nil {
			continue
		}
		docs[i] = doc
		name := doc.Metadata.Name.Value
		if j, dup := byName[name]; dup && name != "" {
			r := &reporter{file: s.File}
			r.errorf(CodeDuplicate, doc.Metadata.Name.Pos, "metadata.name", "runbook %q is also defined in %s", name, srcs[j].File)
			results[i].Diagnostics = append(results[i].Diagnostics, r.diags...)
			docs[i] = nil
			continue
		}
		byName[name] = i
	}
	compiled := map[string]*plan.Plan{}
	resolve := func(name string) (*plan.Plan, bool) {
		if p, ok := compiled[name]; ok {
			return p, true
		}
		if opts.Runbooks != nil {
			return opts.Runbooks(name)
		}
		return nil, false
	}
	state := make([]int, len(srcs)) // 0 new, 1 in progress, 2 done
	var build func(i int, chain []string)
	build = func(i int, chain []string) {
		if state[i] != 0 {
			return
		}
		state[i] = 1
		doc := docs[i]
		name := doc.Metadata.Name.Value
		for _, ref := range subRunbooks(doc) {
			j, inSet := byName[ref.Name.Value]
			if !inSet || docs[j] == nil {
				continue
			}
			if state[j] == 1 {
				r := &reporter{file: doc.file}
				cycle := append(append(chain, name), ref.Name.Value)
				r.errorf(CodeCycle, ref.Name.Pos, "", "runbooks run each other in a cycle: %s", strings.Join(cycle, " -> "))
				results[i].Diagnostics = append(results[i].Diagnostics, r.diags...)
				continue
			}
			build(j, append(chain, name))
		}
		o := opts
		o.Runbooks = resolve
		o.RunbookNames = func() []string {
			names := slices.Collect(maps.Keys(byName))
			if opts.RunbookNames != nil {
				names = append(names, opts.RunbookNames()...)
			}
			slices.Sort(names)
			return slices.Compact(names)
		}
		o.inSet = func(name string) (bool, bool) {
			j, ok := byName[name]
			if !ok {
				return false, false
			}
			return state[j] == 2 || docs[j] == nil, state[j] == 1
		}
		checked, diags := Lint(doc, srcs[i].Data, o)
		results[i].Diagnostics = append(results[i].Diagnostics, diags...)
		results[i].Diagnostics.Sort()
		if checked != nil && !results[i].Diagnostics.HasErrors() {
			results[i].Plan = Compile(checked)
			compiled[name] = results[i].Plan
		}
		state[i] = 2
	}
	for i := range srcs {
		if docs[i] != nil {
			build(i, nil)
		}
	}
	return results
}

// subRunbooks lists the runbook steps of a document, in order, at any depth.
func subRunbooks(doc *Document) []*SubRunbook {
	var out []*SubRunbook
	var walk func([]*Step)
	walk = func(steps []*Step) {
		for _, s := range steps {
			if s == nil {
				continue
			}
			if s.Runbook != nil && s.Runbook.Name.Set {
				out = append(out, s.Runbook)
			}
			for _, list := range nestedSteps(s) {
				walk(list)
			}
		}
	}
	walk(doc.Spec.Steps.Items)
	walk(doc.Spec.OnFailure.Items)
	walk(doc.Spec.Finally.Items)
	return out
}

var stepListType = reflect.TypeOf(List[*Step]{})

// nestedSteps returns every step list directly inside s (parallel branches,
// a group or forEach body, onError, compensate.steps, ...), found by type so
// that a new kind of nested list cannot be missed.
func nestedSteps(s *Step) [][]*Step {
	var out [][]*Step
	var visit func(v reflect.Value)
	visit = func(v reflect.Value) {
		for i := 0; i < v.NumField(); i++ {
			f := v.Field(i)
			switch {
			case f.Type() == stepListType:
				if items := f.Interface().(List[*Step]).Items; len(items) > 0 {
					out = append(out, items)
				}
			case f.Kind() == reflect.Pointer && f.Type().Elem().Kind() == reflect.Struct && !f.IsNil():
				visit(f.Elem())
			}
		}
	}
	visit(reflect.ValueOf(s).Elem())
	return out
}

// ReadSources reads runbook files; a directory contributes its *.yaml and
// *.yml files (not recursively), sorted by name.
func ReadSources(paths ...string) ([]Source, error) {
	var srcs []Source
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		files := []string{p}
		if info.IsDir() {
			files = nil
			entries, err := os.ReadDir(p)
			if err != nil {
				return nil, err
			}
			for _, e := range entries {
				ext := filepath.Ext(e.Name())
				if !e.IsDir() && (ext == ".yaml" || ext == ".yml") {
					files = append(files, filepath.Join(p, e.Name()))
				}
			}
			sort.Strings(files)
			if len(files) == 0 {
				return nil, fmt.Errorf("%s: no .yaml or .yml files", p)
			}
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			srcs = append(srcs, Source{File: f, Data: data})
		}
	}
	return srcs, nil
}
