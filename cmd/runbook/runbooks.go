package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/opsrunbook/runbook/diff"
)

// versionRow is a runbook version as the API lists it.
type versionRow struct {
	Name      string    `json:"name"`
	Version   int       `json:"version"`
	Hash      string    `json:"hash"`
	Title     string    `json:"title"`
	Author    string    `json:"author"`
	CreatedAt time.Time `json:"createdAt"`
}

// runRunbooks lists the registered runbooks, each at its latest version.
func runRunbooks(args []string, out, errOut io.Writer) error {
	fs := flags("runbooks", errOut)
	connect := clientFlags(fs)
	asJSON := fs.Bool("json", false, "print {runbooks: [...]} as GET /api/v1/runbooks answers")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	return listVersions(connect(), "/api/v1/runbooks", "runbooks", *asJSON, out,
		"NAME\tLATEST\tTITLE\tAUTHOR\tREGISTERED", func(v versionRow) string {
			return fmt.Sprintf("%s\tv%d\t%s\t%s\t%s", v.Name, v.Version, or(v.Title, "-"), v.Author, when(&v.CreatedAt))
		})
}

// runVersions lists a runbook's versions, newest first.
func runVersions(args []string, out, errOut io.Writer) error {
	fs := flags("versions", errOut)
	connect := clientFlags(fs)
	asJSON := fs.Bool("json", false, "print {versions: [...]} as GET /api/v1/runbooks/NAME/versions answers")
	pos, err := interleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("name exactly one runbook")
	}
	return listVersions(connect(), "/api/v1/runbooks/"+url.PathEscape(pos[0])+"/versions", "versions", *asJSON, out,
		"VERSION\tHASH\tTITLE\tAUTHOR\tREGISTERED", func(v versionRow) string {
			return fmt.Sprintf("v%d\t%s\t%s\t%s\t%s", v.Version, shortHash(v.Hash), or(v.Title, "-"), v.Author, when(&v.CreatedAt))
		})
}

func listVersions(c *apiClient, path, key string, asJSON bool, out io.Writer, header string, row func(versionRow) string) error {
	var list map[string]json.RawMessage
	if _, err := c.do("GET", path, nil, &list); err != nil {
		return err
	}
	if asJSON {
		return printJSON(out, list)
	}
	var rows []versionRow
	if err := json.Unmarshal(list[key], &rows); err != nil {
		return fmt.Errorf("decoding the answer: %w", err)
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, v := range rows {
		fmt.Fprintln(tw, row(v))
	}
	return tw.Flush()
}

// shortHash is the start of a sha256, enough to tell versions apart.
func shortHash(h string) string { return h[:min(12, len(h))] }

// diffAnswer is what GET /api/v1/runbooks/:name/diff answers.
type diffAnswer struct {
	Runbook string       `json:"runbook"`
	From    int          `json:"from"`
	To      int          `json:"to"`
	Unified string       `json:"unified"`
	Changes diff.Changes `json:"changes"`
}

// runDiff prints what changed between two versions of a runbook: a
// summary of the plan's changes, then the unified diff of the source.
func runDiff(args []string, out, errOut io.Writer) error {
	fs := flags("diff", errOut)
	connect := clientFlags(fs)
	asJSON := fs.Bool("json", false, "print the answer of GET /api/v1/runbooks/NAME/diff")
	pos, err := interleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 1 || len(pos) > 3 {
		return usagef("name a runbook and at most two versions")
	}
	var versions []string
	for _, v := range pos[1:] {
		n, err := strconv.Atoi(strings.TrimPrefix(v, "v"))
		if err != nil || n < 1 {
			return usagef("%q is not a version number (1, 2, ... or v1, v2, ...)", v)
		}
		versions = append(versions, strconv.Itoa(n))
	}
	q := url.Values{}
	for i, v := range versions { // one version: it against the latest
		q.Set([]string{"from", "to"}[i], v)
	}
	path := "/api/v1/runbooks/" + url.PathEscape(pos[0]) + "/diff?" + q.Encode()
	c := connect()
	if *asJSON {
		var raw json.RawMessage
		if _, err := c.do("GET", path, nil, &raw); err != nil {
			return err
		}
		var v any
		_ = json.Unmarshal(raw, &v)
		return printJSON(out, v)
	}
	var d diffAnswer
	if _, err := c.do("GET", path, nil, &d); err != nil {
		return err
	}
	printDiff(out, &d)
	return nil
}

func printDiff(out io.Writer, d *diffAnswer) {
	fmt.Fprintf(out, "%s v%d -> v%d\n", d.Runbook, d.From, d.To)
	if d.Changes.Empty() {
		if d.Unified == "" {
			fmt.Fprintln(out, "no changes")
			return
		}
		fmt.Fprintln(out, "the plan is the same; only the source's text changed")
	}
	for _, set := range []struct {
		what string
		s    diff.Set
	}{{"step", d.Changes.Steps}, {"param", d.Changes.Params}} {
		for _, n := range set.s.Added {
			fmt.Fprintf(out, "  + %s %s added\n", set.what, n)
		}
		for _, n := range set.s.Removed {
			fmt.Fprintf(out, "  - %s %s removed\n", set.what, n)
		}
		for _, ch := range set.s.Changed {
			fmt.Fprintf(out, "  ~ %s %s changed: %s\n", set.what, ch.Name, strings.Join(ch.Fields, ", "))
		}
	}
	if len(d.Changes.Fields) > 0 {
		fmt.Fprintf(out, "  ~ runbook changed: %s\n", strings.Join(d.Changes.Fields, ", "))
	}
	if d.Unified != "" {
		fmt.Fprintln(out)
		fmt.Fprint(out, d.Unified)
	}
}
