package runbooks

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
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
	File string
	Plan *plan.Plan // nil when the file has errors, or is a freeze
	// Freeze is the file's compiled kind: Freeze document (nil for a
	// runbook, or when it has errors).
	Freeze *plan.Freeze
	// Kind is the document's: Runbook, or Freeze.
	Kind        string
	Diagnostics Diagnostics
}

// OK reports whether the file built: a runbook or a freeze without errors.
func (r Result) OK() bool { return r.Plan != nil || r.Freeze != nil }

// BuildSet builds runbooks that may run each other as sub-runbooks: it
// parses them all, orders them so that a child compiles before its parents,
// refuses cycles and duplicate names, and resolves children among the set
// before falling back to opts.Runbooks. Results keep the order of srcs.
func BuildSet(srcs []Source, opts Options) []Result {
	results := make([]Result, len(srcs))
	docs := make([]*Document, len(srcs))
	byName := map[string]int{}
	for i, s := range srcs {
		results[i].File, results[i].Kind = s.File, "Runbook"
		if DocumentKind(s.Data) == KindFreeze {
			results[i].Kind = KindFreeze
			results[i].Freeze, results[i].Diagnostics = BuildFreeze(s.File, s.Data)
			continue
		}
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
			p, err := Compile(checked)
			var ie *InternalError
			switch {
			case errors.As(err, &ie):
				results[i].Diagnostics = append(results[i].Diagnostics, Diagnostic{File: ie.File, Pos: ie.Pos, Severity: SeverityError, Code: CodeInternal, Message: ie.Message()})
			case err != nil:
				results[i].Diagnostics = append(results[i].Diagnostics, Diagnostic{File: srcs[i].File, Severity: SeverityError, Code: CodeInternal, Message: err.Error()})
			default:
				if results[i].Diagnostics = append(results[i].Diagnostics, checkLimits(checked, p)...); results[i].Diagnostics.HasErrors() {
					break
				}
				results[i].Plan = p
				compiled[name] = p
			}
			results[i].Diagnostics.Sort()
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
	for s := range doc.All() {
		if s.Runbook != nil && s.Runbook.Name.Set {
			out = append(out, s.Runbook)
		}
	}
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
