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

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/runbooks"
)

// load builds file with the runbooks of lib (default: the file's
// directory) available as sub-runbooks, and prints its diagnostics.
func load(file, lib string, errOut io.Writer) (*runbooks.Plan, error) {
	if lib == "" {
		lib = filepath.Dir(file)
	}
	srcs, err := runbooks.ReadSources(file)
	if err != nil {
		return nil, err
	}
	if others, err := runbooks.ReadSources(lib); err == nil {
		abs, _ := filepath.Abs(file)
		for _, o := range others {
			if a, _ := filepath.Abs(o.File); a != abs {
				srcs = append(srcs, o)
			}
		}
	}
	results := runbooks.BuildSet(srcs, runbooks.Options{Actions: activities.Catalog()})
	r := results[0]
	for _, d := range r.Diagnostics {
		fmt.Fprintln(errOut, d)
	}
	if r.Plan == nil {
		return nil, &exitError{code: 1}
	}
	return r.Plan, nil
}

// loadArg parses the flags and loads the one runbook file they name.
func loadArg(fs *flag.FlagSet, args []string, lib *string, errOut io.Writer) (*runbooks.Plan, error) {
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
	var params multiFlag
	fs.Var(&params, "p", "param as name=value (repeatable)")
	plan, err := loadArg(fs, args, lib, errOut)
	if err != nil {
		return err
	}
	if *showPlan {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(plan)
	}
	given, err := plan.ParseParamArgs(params)
	if err != nil {
		return err
	}
	who := os.Getenv("USER")
	if u, err := user.Current(); err == nil && who == "" {
		who = u.Username
	}
	pv, err := plan.Preview(given, time.Now(), who)
	if err != nil {
		return err
	}
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
	plan, err := loadArg(fs, args, lib, errOut)
	if err != nil {
		return err
	}
	_, err = io.WriteString(out, plan.Mermaid())
	return err
}
