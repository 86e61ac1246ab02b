package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/workflows"
)

// runStatuses are the statuses a run takes, as --status accepts them.
var runStatuses = workflows.RunStatuses

// runsPage is how many runs runs lists by default; maxRunsPage the most
// the API answers in one page (?limit=), past which runs follows the
// cursor.
const (
	runsPage    = 50
	maxRunsPage = 500
)

// runRow is a run as the list shows it.
type runRow struct {
	ID          string     `json:"id"`
	Runbook     string     `json:"runbook"`
	Version     int        `json:"version"`
	Status      string     `json:"status"`
	Trigger     string     `json:"trigger"`
	StartedBy   string     `json:"startedBy"`
	FailedStep  string     `json:"failedStep"`
	Error       string     `json:"error"`
	CreatedAt   time.Time  `json:"createdAt"`
	EndedAt     *time.Time `json:"endedAt"`
	VersionHash string     `json:"versionHash"`
}

// runRuns lists runs, newest first, following the API's cursor until
// --limit runs are listed.
func runRuns(args []string, out, errOut io.Writer) error {
	fs := flags("runs", errOut)
	connect := clientFlags(fs)
	rb := fs.String("runbook", "", "only runs of this runbook")
	status := fs.String("status", "", "only runs with this status: "+strings.Join(runStatuses, ", "))
	since := fs.String("since", "", "only runs started at or after this time: RFC 3339 (2026-12-01T09:00:00Z) or a duration ago (24h, 7d)")
	until := fs.String("until", "", "only runs started before this time: RFC 3339 or a duration ago")
	limit := fs.Int("limit", runsPage, "list at most this many runs")
	asJSON := fs.Bool("json", false, "print the runs as JSON: {runs: [...]}, as GET /api/v1/runs answers")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	if *status != "" && !slices.Contains(runStatuses, *status) {
		return usagef("unknown status %q: want one of %s", *status, strings.Join(runStatuses, ", "))
	}
	if *limit < 1 {
		return usagef("--limit must be 1 or more")
	}
	q := url.Values{}
	if *rb != "" {
		q.Set("runbook", *rb)
	}
	if *status != "" {
		q.Set("status", *status)
	}
	now := time.Now()
	for name, v := range map[string]string{"since": *since, "until": *until} {
		if v == "" {
			continue
		}
		t, err := pointInTime(v, now)
		if err != nil {
			return usagef("--%s: %v", name, err)
		}
		q.Set(name, t.UTC().Format(time.RFC3339))
	}
	c := connect()
	raw, err := c.pages("/api/v1/runs", "runs", q, *limit)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(out, map[string]any{"runs": raw})
	}
	rows := make([]runRow, len(raw))
	for i, r := range raw {
		if err := json.Unmarshal(r, &rows[i]); err != nil {
			return fmt.Errorf("decoding the answer: %w", err)
		}
	}
	return printRuns(out, rows)
}

// errorWidth is how much of a run's error the list shows when it does
// not know the terminal's width (COLUMNS, or the terminal's own).
const errorWidth = 60

func printRuns(out io.Writer, rows []runRow) error {
	header := []string{"RUN", "RUNBOOK", "STATUS", "VERSION", "TRIGGER", "BY", "STARTED", "DURATION", "FAILED STEP"}
	cells := [][]string{header}
	for _, r := range rows {
		took := "-"
		if r.EndedAt != nil {
			took = span(r.EndedAt.Sub(r.CreatedAt))
		}
		cells = append(cells, []string{r.ID, r.Runbook, r.Status, "v" + strconv.Itoa(r.Version), r.Trigger, or(r.StartedBy, "-"),
			when(&r.CreatedAt), took, or(r.FailedStep, "-")})
	}
	used := 0
	for col := range header {
		w := 0
		for _, row := range cells {
			w = max(w, utf8.RuneCountInString(row[col]))
		}
		used += w + 2
	}
	width := errorWidth
	if cols := terminalWidth(out); cols > 0 {
		width = max(20, cols-used)
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t")+"\tERROR")
	for i, r := range rows {
		fmt.Fprintln(tw, strings.Join(cells[i+1], "\t")+"\t"+or(truncate(oneLine(r.Error), width), "-"))
	}
	return tw.Flush()
}

// terminalWidth is COLUMNS, else the width of the terminal out is, else 0.
func terminalWidth(out io.Writer) int {
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil {
			return w
		}
	}
	return 0
}

// pointInTime reads an RFC 3339 time, or a duration (24h, 7d) before now.
func pointInTime(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := plan.ParseDuration(s)
	if err != nil || d <= 0 {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time (2026-12-01T09:00:00Z) nor a duration ago (24h, 7d)", s)
	}
	return now.Add(-d), nil
}

// when is a time in UTC, to the second, the same wherever it is read.
func when(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// span is a duration to the millisecond below a minute, to the second above.
func span(d time.Duration) string {
	if d < time.Minute {
		return d.Round(time.Millisecond).String()
	}
	return plan.FormatDuration(d.Round(time.Second))
}

// truncate shortens s to n runes, ending with … when it cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// printJSON prints v indented, as the API's JSON.
func printJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// pages reads up to limit items of a paged list: path answers pages with
// the items under key and the next page's cursor as next.
func (c *apiClient) pages(path, key string, q url.Values, limit int) ([]json.RawMessage, error) {
	raw := []json.RawMessage{}
	for {
		var page map[string]json.RawMessage
		q.Set("limit", strconv.Itoa(min(limit-len(raw), maxRunsPage)))
		if _, err := c.do("GET", path+"?"+q.Encode(), nil, &page); err != nil {
			return nil, err
		}
		var items []json.RawMessage
		var next string
		if b := page[key]; len(b) > 0 {
			if err := json.Unmarshal(b, &items); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
		}
		if b := page["next"]; len(b) > 0 {
			_ = json.Unmarshal(b, &next)
		}
		raw = append(raw, items...)
		if len(raw) >= limit || next == "" {
			break
		}
		q.Set("cursor", next)
	}
	if len(raw) > limit {
		raw = raw[:limit]
	}
	return raw, nil
}
