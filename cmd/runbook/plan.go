package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"time"

	"github.com/opsrunbook/runbook/plan"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/runbooks"
)

// load builds file with the runbooks of lib (default: the file's
// directory) available as sub-runbooks, and prints its diagnostics.
func load(file, lib string, errOut io.Writer) (*plan.Plan, error) {
	p, _, err := loadWithFreezes(file, lib, errOut)
	return p, err
}

// loadWithFreezes is load, with the freezes among the library's files.
func loadWithFreezes(file, lib string, errOut io.Writer) (*plan.Plan, []*plan.Freeze, error) {
	srcs, err := runbooks.ReadSources(file)
	if err != nil {
		return nil, nil, err
	}
	srcs, err = withLibrary(srcs, []string{file}, lib)
	if err != nil {
		return nil, nil, err
	}
	results := runbooks.BuildSet(srcs, runbooks.Options{Actions: activities.Catalog()})
	r := results[0]
	for _, d := range r.Diagnostics {
		fmt.Fprintln(errOut, d)
	}
	if r.Kind == runbooks.KindFreeze {
		return nil, nil, usagef("%s is a freeze: name a runbook file", file)
	}
	if r.Plan == nil {
		return nil, nil, &exitError{code: 1}
	}
	var freezes []*plan.Freeze
	for _, o := range results[1:] {
		switch {
		case o.Freeze != nil:
			freezes = append(freezes, o.Freeze)
		case o.Kind == runbooks.KindFreeze:
			fmt.Fprintf(errOut, "warning: %s is an invalid freeze, left out (runbook validate %s says why)\n", o.File, o.File)
		}
	}
	return r.Plan, freezes, nil
}

// withLibrary appends to srcs the runbooks they may run as sub-runbooks:
// those of lib, or when lib is empty those beside each file of paths that is
// not a directory. The library comes after srcs and holds none of them, so
// the results of srcs keep their indexes. A missing lib is an error; an
// unreadable default directory contributes nothing.
func withLibrary(srcs []runbooks.Source, paths []string, lib string) ([]runbooks.Source, error) {
	dirs := []string{lib}
	if lib == "" {
		dirs = nil
		for _, p := range paths {
			if info, err := os.Stat(p); err == nil && !info.IsDir() {
				dirs = append(dirs, filepath.Dir(p))
			}
		}
	}
	seen := map[string]bool{}
	for _, s := range srcs {
		a, _ := filepath.Abs(s.File)
		seen[a] = true
	}
	for _, dir := range dirs {
		others, err := runbooks.ReadSources(dir)
		if err != nil {
			if lib != "" {
				return nil, fmt.Errorf("--lib: %w", err)
			}
			continue
		}
		for _, o := range others {
			if a, _ := filepath.Abs(o.File); !seen[a] {
				seen[a] = true
				srcs = append(srcs, o)
			}
		}
	}
	return srcs, nil
}

// loadArg parses the flags and loads the one runbook file they name.
func loadArg(fs *flag.FlagSet, args []string, lib *string, errOut io.Writer) (*plan.Plan, error) {
	files, err := interleaved(fs, args)
	if err != nil {
		return nil, err
	}
	if len(files) != 1 {
		return nil, usagef("name exactly one runbook file")
	}
	return load(files[0], *lib, errOut)
}

func runPlan(args []string, out, errOut io.Writer) error {
	fs := flags("plan", errOut)
	asJSON := fs.Bool("json", false, "print the preview as JSON")
	showPlan := fs.Bool("compiled", false, "print the compiled plan as JSON instead of a preview")
	lib := fs.String("lib", "", "directory of runbooks available as sub-runbooks (default: the file's directory)")
	var params pairFlag
	fs.Var(&params, "p", "param as name=value (repeatable)")
	files, err := interleaved(fs, args)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return usagef("name exactly one runbook file")
	}
	p, freezes, err := loadWithFreezes(files[0], *lib, errOut)
	if err != nil {
		return err
	}
	if *showPlan {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(p)
	}
	given, err := p.ParseParamArgs(params)
	if err != nil {
		return err
	}
	who := os.Getenv("USER")
	if u, err := user.Current(); err == nil && who == "" {
		who = u.Username
	}
	now := time.Now()
	pv, err := runbooks.PreviewPlan(p, given, now, who)
	if err != nil {
		return err
	}
	pv.Freezes = runbooks.FreezesFor(p, freezes, now)
	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(pv)
	}
	_, err = io.WriteString(out, pv.String())
	return err
}

func runGraph(args []string, out, errOut io.Writer) error {
	fs := flags("graph", errOut)
	lib := fs.String("lib", "", "directory of runbooks available as sub-runbooks (default: the file's directory)")
	p, err := loadArg(fs, args, lib, errOut)
	if err != nil {
		return err
	}
	_, err = io.WriteString(out, runbooks.Mermaid(p))
	return err
}
