package server

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/opsrunbook/runbook/store"
)

// MaxTimelineEntries bounds an incident's timeline answer; entriesOmitted
// counts the rest (the latest are left out).
const MaxTimelineEntries = 5000

// timelineEntry is one entry of an incident's timeline: its own events
// (alert, status, note, run: a run linked) and, from the records of the
// runs linked to it, run.start, run.end, step (one per step that started,
// at its start; status is its current or last one) and vote.
type timelineEntry struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"`
	Actor  string    `json:"actor,omitempty"`
	Status string    `json:"status,omitempty"`
	Text   string    `json:"text,omitempty"`
	Run    string    `json:"run,omitempty"`
	Step   string    `json:"step,omitempty"`
	Item   *int      `json:"item,omitempty"`
}

type timelineView struct {
	Incident       incidentView      `json:"incident"`
	Runs           []incidentRunView `json:"runs"`
	Entries        []timelineEntry   `json:"entries"`
	EntriesOmitted int               `json:"entriesOmitted"`
}

func (a *API) timeline(inc *store.Incident) (*timelineView, error) {
	events, err := a.Store.IncidentEvents(inc.ID)
	if err != nil {
		return nil, err
	}
	runs, records, err := a.incidentRuns(inc.ID)
	if err != nil {
		return nil, err
	}
	var out []timelineEntry
	for _, e := range events {
		out = append(out, timelineEntry{At: e.At, Kind: e.Kind, Actor: e.Actor, Status: e.Status, Text: e.Text, Run: e.Run})
	}
	for _, rv := range runs {
		r := records[rv.Run]
		if r == nil {
			continue
		}
		out = append(out, timelineEntry{At: r.CreatedAt, Kind: "run.start", Actor: r.Starter(), Run: r.ID, Text: r.Runbook + " v" + fmt.Sprint(r.Version)})
		if r.EndedAt != nil {
			out = append(out, timelineEntry{At: *r.EndedAt, Kind: "run.end", Status: r.Status, Run: r.ID, Text: r.Error})
		}
		steps, err := a.Store.Steps(r.ID)
		if err != nil {
			return nil, err
		}
		for _, s := range steps {
			if s.StartedAt == nil {
				continue
			}
			e := timelineEntry{At: *s.StartedAt, Kind: "step", Status: s.Status, Run: r.ID, Step: s.StepID, Text: s.Kind}
			if s.Error != "" {
				e.Text += ": " + s.Error
			}
			if s.Item >= 0 {
				item := s.Item
				e.Item = &item
			}
			out = append(out, e)
		}
		votes, err := a.Store.Votes(r.ID)
		if err != nil {
			return nil, err
		}
		for _, v := range votes {
			e := timelineEntry{At: v.At, Kind: "vote", Actor: v.User, Status: v.Decision, Run: v.RunID, Step: v.StepID, Text: v.Comment}
			if v.Item >= 0 {
				item := v.Item
				e.Item = &item
			}
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	tv := &timelineView{Incident: viewIncident(inc), Runs: runs, Entries: out}
	if len(out) > MaxTimelineEntries {
		tv.Entries, tv.EntriesOmitted = out[:MaxTimelineEntries], len(out)-MaxTimelineEntries
	}
	if tv.Entries == nil {
		tv.Entries = []timelineEntry{}
	}
	return tv, nil
}

// getTimeline answers an incident's timeline, as JSON or (format=markdown)
// as a Markdown document for the post-incident review.
func (a *API) getTimeline(c echo.Context) error {
	inc, err := a.incidentOf(c)
	if err != nil {
		return err
	}
	format := c.QueryParam("format")
	if format != "" && format != "json" && format != "markdown" {
		return problem(http.StatusBadRequest, "format must be json or markdown", "format: "+format)
	}
	tv, err := a.timeline(inc)
	if err != nil {
		return err
	}
	if format == "markdown" {
		return c.Blob(http.StatusOK, "text/markdown; charset=utf-8", []byte(timelineMarkdown(tv)))
	}
	return c.JSON(http.StatusOK, tv)
}

// timelineMarkdown renders a timeline: every value a caller or an alert
// chose is escaped (md).
func timelineMarkdown(tv *timelineView) string {
	inc := tv.Incident
	var b strings.Builder
	fmt.Fprintf(&b, "# Incident %d: %s\n\n", inc.ID, md(inc.Title))
	b.WriteString("| field | value |\n|---|---|\n")
	ts := func(t *time.Time) string {
		if t == nil {
			return "—"
		}
		return t.UTC().Format(time.RFC3339)
	}
	secs := func(s *float64) string {
		if s == nil {
			return "—"
		}
		return (time.Duration(*s * float64(time.Second))).Round(time.Second).String()
	}
	opened := inc.OpenedAt
	for _, row := range [][2]string{{"status", inc.Status}, {"severity", inc.Severity}, {"service", inc.Service}, {"source", inc.Source},
		{"key", inc.Key}, {"opened", ts(&opened) + " by " + inc.OpenedBy}, {"acknowledged", ts(inc.AckedAt) + by(inc.AckedBy)},
		{"resolved", ts(inc.ResolvedAt) + by(inc.ResolvedBy)}, {"time to acknowledge", secs(inc.TTASeconds)},
		{"time to resolve", secs(inc.TTRSeconds)}, {"reopened", fmt.Sprint(inc.Reopens)}} {
		fmt.Fprintf(&b, "| %s | %s |\n", row[0], md(row[1]))
	}
	b.WriteString("\n## Runs\n\n")
	if len(tv.Runs) == 0 {
		b.WriteString("No run was started for it.\n")
	} else {
		b.WriteString("| run | runbook | status | linked | by |\n|---|---|---|---|---|\n")
		for _, r := range tv.Runs {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", md(r.Run), md(r.Runbook), md(r.Status), r.LinkedAt.UTC().Format(time.RFC3339), md(r.LinkedBy))
		}
	}
	b.WriteString("\n## Timeline\n\n| time | kind | who | status | what |\n|---|---|---|---|---|\n")
	for _, e := range tv.Entries {
		what := e.Text
		if e.Step != "" {
			step := e.Step
			if e.Item != nil {
				step += fmt.Sprintf("[%d]", *e.Item)
			}
			what = strings.TrimSpace(step + " " + what)
		}
		if e.Run != "" {
			what = strings.TrimSpace("run " + e.Run + ": " + what)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", e.At.UTC().Format(time.RFC3339), md(e.Kind), md(e.Actor), md(e.Status), md(what))
	}
	if tv.EntriesOmitted > 0 {
		fmt.Fprintf(&b, "\n%d later entries are not shown.\n", tv.EntriesOmitted)
	}
	return b.String()
}

func by(who string) string {
	if who == "" {
		return ""
	}
	return " by " + who
}
