package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/opsrunbook/runbook/plan"
)

// auditNow is the clock --since 24h counts back from.
var auditNow = time.Now

// runAudit prints the audit trail, newest first: who did what, and what
// was refused and why.
func runAudit(args []string, out, errOut io.Writer) error {
	fs := flags("audit", errOut)
	connect := clientFlags(fs)
	filters := map[string]*string{}
	for _, f := range []struct{ name, usage string }{
		{"run", "only entries about this run"},
		{"runbook", "only entries about this runbook"},
		{"actor", "only entries by this user (system:schedule, system:webhook, cli:USER)"},
		{"action", "only entries of this action (run.start, approval.vote, ...)"},
		{"outcome", "only ok or refused entries"},
	} {
		filters[f.name] = fs.String(f.name, "", f.usage)
	}
	since := fs.String("since", "", "entries from this time: RFC 3339, or a duration back from now (24h, 7d)")
	until := fs.String("until", "", "entries before this time: RFC 3339, or a duration back from now")
	limit := fs.Int("limit", 100, "at most this many entries (1 to 1000)")
	asJSON := fs.Bool("json", false, "print the API's answer")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	q := url.Values{}
	for _, name := range plan.SortedKeys(filters) {
		if v := *filters[name]; v != "" {
			q.Set(name, v)
		}
	}
	for name, v := range map[string]string{"since": *since, "until": *until} {
		if v == "" {
			continue
		}
		t, err := auditTime(v, auditNow())
		if err != nil {
			return usagef("--%s: %v", name, err)
		}
		q.Set(name, t.Format(time.RFC3339))
	}
	if *limit < 1 || *limit > 1000 {
		return usagef("--limit must be from 1 to 1000, not %d", *limit)
	}
	q.Set("limit", strconv.Itoa(*limit))
	var raw json.RawMessage
	if _, err := connect().do("GET", "/api/v1/audit?"+q.Encode(), nil, &raw); err != nil {
		return err
	}
	if *asJSON {
		var b bytes.Buffer
		if err := json.Indent(&b, raw, "", "  "); err != nil {
			return err
		}
		b.WriteByte('\n')
		_, err := out.Write(b.Bytes())
		return err
	}
	var page struct {
		Entries []struct {
			At                                          time.Time
			Actor, Action, Target, Outcome, Reason, Run string
			Detail                                      map[string]any
		}
		Next string
	}
	if err := json.Unmarshal(raw, &page); err != nil {
		return fmt.Errorf("decoding the answer: %w", err)
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME (UTC)\tACTOR\tACTION\tTARGET\tOUTCOME\tDETAIL")
	for _, e := range page.Entries {
		note := detailPairs(e.Detail)
		if e.Reason != "" {
			note = e.Reason
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.At.UTC().Format("2006-01-02 15:04:05"), e.Actor, e.Action, e.Target, e.Outcome, oneLine(note))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if page.Next != "" {
		fmt.Fprintf(errOut, "more entries than --limit %d: narrow with --since/--until or raise --limit\n", *limit)
	}
	return nil
}

// auditTime reads --since/--until: an RFC 3339 time, or a duration (Go's,
// with days) meaning that long before now.
func auditTime(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := plan.ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time (2026-01-02T15:04:05Z) nor a duration (24h, 7d)", s)
	}
	return now.Add(-d).UTC().Truncate(time.Second), nil
}

// detailPairs is an entry's detail as key=value, in key order.
func detailPairs(d map[string]any) string {
	var parts []string
	for _, k := range plan.SortedKeys(d) {
		v := d[k]
		if s, ok := v.(string); ok && (s == "" || strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r == '"' || !unicode.IsPrint(r) })) {
			v = strconv.Quote(s)
		}
		parts = append(parts, fmt.Sprintf("%s=%v", k, v))
	}
	return strings.Join(parts, " ")
}

// oneLine keeps a table row on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
