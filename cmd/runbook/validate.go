package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/runbooks"
)

func runValidate(args []string, out, errOut io.Writer) error {
	fs := flags("validate", errOut)
	asJSON := fs.Bool("json", false, "print the results as JSON")
	lib := fs.String("lib", "", "directory of runbooks available as sub-runbooks (default: the directory of each FILE)")
	paths, err := interleaved(fs, args)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return usagef("name at least one file or directory")
	}
	srcs, err := runbooks.ReadSources(paths...)
	if err != nil {
		return err
	}
	named := len(srcs)
	all, err := withLibrary(srcs, paths, *lib)
	if err != nil {
		return err
	}
	// The library is built so that children resolve, but only the named
	// files are reported.
	results := runbooks.BuildSet(all, runbooks.Options{Actions: activities.Catalog()})[:named]
	failed, warnings, freezes, badFreezes, freezeWarnings := 0, 0, 0, 0, 0
	for _, r := range results {
		switch {
		case r.Kind == runbooks.KindFreeze:
			freezes++
			if r.Freeze == nil {
				badFreezes++
			}
			freezeWarnings += len(r.Diagnostics.Warnings())
		case r.Plan == nil:
			failed++
			warnings += len(r.Diagnostics.Warnings())
		default:
			warnings += len(r.Diagnostics.Warnings())
		}
	}
	if *asJSON {
		type fileResult struct {
			File        string               `json:"file"`
			Valid       bool                 `json:"valid"`
			Runbook     string               `json:"runbook,omitempty"`
			Freeze      string               `json:"freeze,omitempty"`
			Diagnostics runbooks.Diagnostics `json:"diagnostics"`
		}
		var rs []fileResult
		for _, r := range results {
			fr := fileResult{File: r.File, Valid: r.OK(), Diagnostics: r.Diagnostics}
			if r.Freeze != nil {
				fr.Freeze = r.Freeze.Name
			}
			if fr.Diagnostics == nil {
				fr.Diagnostics = runbooks.Diagnostics{}
			}
			if r.Plan != nil {
				fr.Runbook = r.Plan.Name
			}
			rs = append(rs, fr)
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rs); err != nil {
			return err
		}
	} else {
		for _, r := range results {
			for _, d := range r.Diagnostics {
				fmt.Fprintln(out, d)
			}
		}
		books := len(results) - freezes
		if freezes > 0 {
			fmt.Fprintf(out, "%d of %d freezes valid, %d with errors, %d warnings\n", freezes-badFreezes, freezes, badFreezes, freezeWarnings)
		}
		if books > 0 || freezes == 0 {
			fmt.Fprintf(out, "%d of %d runbooks valid, %d with errors, %d warnings\n", books-failed, books, failed, warnings)
		}
	}
	if failed+badFreezes > 0 {
		return &exitError{code: 1}
	}
	return nil
}
