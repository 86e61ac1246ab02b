package main

import (
	"io"
	"net/url"
)

// runReport prints the evidence of a run that has ended
// (GET /api/v1/runs/RUN/report): JSON, or Markdown with --markdown.
func runReport(args []string, out, errOut io.Writer) error {
	fs := flags("report", errOut)
	connect := clientFlags(fs)
	markdown := fs.Bool("markdown", false, "print the report as a Markdown document, for a review or an audit")
	pos, err := interleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("name exactly one run")
	}
	path := "/api/v1/runs/" + url.PathEscape(pos[0]) + "/report"
	c := connect()
	if *markdown {
		var doc []byte
		if _, err := c.do("GET", path+"?format=markdown", nil, &doc); err != nil {
			return err
		}
		_, err := out.Write(doc)
		return err
	}
	rep, err := c.object(path)
	if err != nil {
		return err
	}
	return printJSON(out, rep)
}
