package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// incidentStatuses are the statuses --status accepts.
var incidentStatuses = []string{"open", "mitigating", "resolved"}

// incidentRow is an incident as the CLI shows it.
type incidentRow struct {
	ID         uint       `json:"id"`
	Title      string     `json:"title"`
	Severity   string     `json:"severity"`
	Service    string     `json:"service"`
	Status     string     `json:"status"`
	Source     string     `json:"source"`
	Key        string     `json:"key"`
	OpenedBy   string     `json:"openedBy"`
	OpenedAt   time.Time  `json:"openedAt"`
	AckedAt    *time.Time `json:"ackedAt"`
	AckedBy    string     `json:"ackedBy"`
	ResolvedAt *time.Time `json:"resolvedAt"`
	ResolvedBy string     `json:"resolvedBy"`
	Reopens    int        `json:"reopens"`
	TTA        *float64   `json:"ttaSeconds"`
	TTR        *float64   `json:"ttrSeconds"`
	Runs       []struct {
		Run, Runbook, Status, LinkedBy string
	} `json:"runs"`
}

// runIncidents lists incidents, newest first, following the API's cursor
// until --limit are listed.
func runIncidents(args []string, out, errOut io.Writer) error {
	fs := flags("incidents", errOut)
	connect := clientFlags(fs)
	status := fs.String("status", "", "only incidents with this status: "+strings.Join(incidentStatuses, ", "))
	service := fs.String("service", "", "only incidents of this service")
	severity := fs.String("severity", "", "only incidents of this severity")
	since := fs.String("since", "", "only incidents opened at or after this time: RFC 3339 or a duration ago (24h, 7d)")
	limit := fs.Int("limit", runsPage, "list at most this many incidents")
	asJSON := fs.Bool("json", false, "print the incidents as JSON: {incidents: [...]}, as GET /api/v1/incidents answers")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	if *status != "" && !slices.Contains(incidentStatuses, *status) {
		return usagef("unknown status %q: want one of %s", *status, strings.Join(incidentStatuses, ", "))
	}
	if *limit < 1 {
		return usagef("--limit must be 1 or more")
	}
	q := url.Values{}
	for name, v := range map[string]string{"status": *status, "service": *service, "severity": *severity} {
		if v != "" {
			q.Set(name, v)
		}
	}
	if *since != "" {
		t, err := pointInTime(*since, time.Now())
		if err != nil {
			return usagef("--since: %v", err)
		}
		q.Set("since", t.UTC().Format(time.RFC3339))
	}
	raw, err := connect().pages("/api/v1/incidents", "incidents", q, *limit)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(out, map[string]any{"incidents": raw})
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tSEVERITY\tSERVICE\tOPENED\tTTA\tTTR\tTITLE")
	for _, r := range raw {
		var row incidentRow
		if err := json.Unmarshal(r, &row); err != nil {
			return fmt.Errorf("decoding the answer: %w", err)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", row.ID, row.Status, or(row.Severity, "-"), or(row.Service, "-"),
			when(&row.OpenedAt), seconds(row.TTA), seconds(row.TTR), truncate(oneLine(row.Title), errorWidth))
	}
	return tw.Flush()
}

func seconds(s *float64) string {
	if s == nil {
		return "-"
	}
	return span(time.Duration(*s * float64(time.Second)))
}

// runIncident shows, opens, acknowledges, resolves, reopens or annotates
// an incident.
func runIncident(args []string, out, errOut io.Writer) error {
	fs := flags("incident", errOut)
	connect := clientFlags(fs)
	asJSON := fs.Bool("json", false, "show: print the incident with its timeline as JSON")
	markdown := fs.Bool("markdown", false, "show: print the timeline as a Markdown document, for the post-incident review")
	reason := fs.String("reason", "", "ack, resolve, reopen: why (at most 1024 bytes)")
	title := fs.String("title", "", "open: the incident's title")
	service := fs.String("service", "", "open: its service")
	severity := fs.String("severity", "", "open: its severity")
	key := fs.String("key", "", "open: a key that names it: opening with the same key again finds it")
	pos, err := interleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("name a subcommand: show, open, note, ack, resolve or reopen")
	}
	sub, pos := pos[0], pos[1:]
	want := map[string]int{"show": 1, "open": 0, "note": 2, "ack": 1, "resolve": 1, "reopen": 1}
	n, ok := want[sub]
	switch {
	case !ok:
		return usagef("unknown subcommand %q: want show, open, note, ack, resolve or reopen", sub)
	case sub == "note" && len(pos) != 2:
		return usagef("incident note names an incident and the note's text")
	case len(pos) != n && n == 1:
		return usagef("incident %s names exactly one incident", sub)
	case len(pos) != n:
		return usagef("unexpected argument %q", pos[0])
	case sub == "open" && strings.TrimSpace(*title) == "":
		return usagef("incident open needs --title")
	case (*asJSON || *markdown) && sub != "show":
		return usagef("--json and --markdown go with show")
	case *reason != "" && sub != "ack" && sub != "resolve" && sub != "reopen":
		return usagef("--reason goes with ack, resolve and reopen")
	case (*title != "" || *service != "" || *severity != "" || *key != "") && sub != "open":
		return usagef("--title, --service, --severity and --key go with open")
	}
	if n > 0 {
		if id, err := strconv.ParseUint(pos[0], 10, 32); err != nil || id == 0 {
			return usagef("%q is not an incident id (a number)", pos[0])
		}
	}
	c := connect()
	var inc incidentRow
	switch sub {
	case "show":
		return showIncident(c, pos[0], *asJSON, *markdown, out)
	case "open":
		body := map[string]any{"title": *title, "service": *service, "severity": *severity, "key": *key}
		var opened struct {
			incidentRow
			Outcome string `json:"outcome"`
		}
		if _, err := c.do("POST", "/api/v1/incidents", body, &opened); err != nil {
			return err
		}
		fmt.Fprintf(out, "incident %d %s: %s\n", opened.ID, opened.Outcome, opened.Status)
		return nil
	case "note":
		if _, err := c.do("POST", "/api/v1/incidents/"+pos[0]+"/notes", map[string]any{"text": pos[1]}, nil); err != nil {
			return err
		}
		fmt.Fprintf(out, "note added to incident %s\n", pos[0])
		return nil
	}
	if _, err := c.do("POST", "/api/v1/incidents/"+pos[0]+"/"+sub, map[string]any{"reason": *reason}, &inc); err != nil {
		return err
	}
	fmt.Fprintf(out, "incident %d is %s\n", inc.ID, inc.Status)
	return nil
}

// showIncident prints an incident, its runs and its timeline.
func showIncident(c *apiClient, id string, asJSON, markdown bool, out io.Writer) error {
	path := "/api/v1/incidents/" + id + "/timeline"
	if markdown {
		var doc []byte
		if _, err := c.do("GET", path+"?format=markdown", nil, &doc); err != nil {
			return err
		}
		_, err := out.Write(doc)
		return err
	}
	if asJSON {
		tl, err := c.object(path)
		if err != nil {
			return err
		}
		return printJSON(out, tl)
	}
	var tl struct {
		Incident incidentRow `json:"incident"`
		Runs     []struct {
			Run, Runbook, Status, LinkedBy string
		} `json:"runs"`
		Entries []struct {
			At                                   time.Time
			Kind, Actor, Status, Text, Run, Step string
			Item                                 *int
		} `json:"entries"`
		EntriesOmitted int `json:"entriesOmitted"`
	}
	if _, err := c.do("GET", path, nil, &tl); err != nil {
		return err
	}
	inc := tl.Incident
	fmt.Fprintf(out, "incident %d: %s\n", inc.ID, oneLine(inc.Title))
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	for _, row := range [][2]string{{"status", inc.Status}, {"severity", or(inc.Severity, "-")}, {"service", or(inc.Service, "-")},
		{"source", inc.Source + " " + inc.Key}, {"opened", when(&inc.OpenedAt) + " by " + inc.OpenedBy},
		{"acknowledged", when(inc.AckedAt) + suffix(" by ", inc.AckedBy)}, {"resolved", when(inc.ResolvedAt) + suffix(" by ", inc.ResolvedBy)},
		{"tta", seconds(inc.TTA)}, {"ttr", seconds(inc.TTR)}, {"reopened", strconv.Itoa(inc.Reopens)}} {
		fmt.Fprintf(tw, "  %s\t%s\n", row[0], oneLine(row[1]))
	}
	tw.Flush()
	if len(tl.Runs) > 0 {
		fmt.Fprintln(out, "runs:")
		tw = tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
		for _, r := range tl.Runs {
			fmt.Fprintf(tw, "  %s\t%s\t%s\tby %s\n", r.Run, or(r.Runbook, "-"), or(r.Status, "-"), r.LinkedBy)
		}
		tw.Flush()
	}
	fmt.Fprintln(out, "timeline:")
	tw = tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	for _, e := range tl.Entries {
		what := e.Text
		if e.Step != "" {
			step := e.Step
			if e.Item != nil {
				step += "[" + strconv.Itoa(*e.Item) + "]"
			}
			what = strings.TrimSpace(step + " " + what)
		}
		if e.Run != "" {
			what = strings.TrimSpace(e.Run + " " + what)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", when(&e.At), e.Kind, or(e.Actor, "-"), or(e.Status, "-"), truncate(oneLine(what), 100))
	}
	tw.Flush()
	if tl.EntriesOmitted > 0 {
		fmt.Fprintf(out, "(%d later entries not shown)\n", tl.EntriesOmitted)
	}
	return nil
}

func suffix(sep, s string) string {
	if s == "" {
		return ""
	}
	return sep + s
}
