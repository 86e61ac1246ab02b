package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/runbooks"
)

func runSchema(args []string, out, errOut io.Writer) error {
	fs := flags("schema", errOut)
	if err := noArgs(fs, args); err != nil {
		return err
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(runbooks.JSONSchema(activities.Catalog()))
}

func runActions(args []string, out, errOut io.Writer) error {
	fs := flags("actions", errOut)
	asJSON := fs.Bool("json", false, "print the specs as JSON")
	asMarkdown := fs.Bool("markdown", false, "print the reference tables as Markdown")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	specs := activities.Catalog().Actions()
	switch {
	case *asJSON:
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(specs)
	case *asMarkdown:
		_, err := io.WriteString(out, runbooks.ActionsMarkdown(specs))
		return err
	}
	for _, s := range specs {
		fmt.Fprintf(out, "%s\n  %s\n  inputs:\n", s.Name, s.Description)
		for _, f := range s.Inputs {
			req := ""
			if f.Required {
				req = " (required)"
			}
			fmt.Fprintf(out, "    %-14s %-22s%s %s\n", f.Name, f.Type, req, f.Description)
		}
		fmt.Fprintf(out, "  outputs:\n")
		for _, f := range s.Outputs {
			fmt.Fprintf(out, "    %-14s %-22s %s\n", f.Name, f.Type, f.Description)
		}
		fmt.Fprintln(out)
	}
	return nil
}
