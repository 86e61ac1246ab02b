package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/workflows"
)

// MaxReportSteps bounds the step table of a report; the rest is counted
// (stepsOmitted), not listed.
const MaxReportSteps = 2000

// runReport is the evidence of a run that has ended, for an auditor: what
// ran (the runbook version and the sha256 of its source), who started it
// and who approved, each step's timing and result, the params and the
// outputs (a DR drill's RTO and RPO with their targets are outputs).
type runReport struct {
	Run             string              `json:"run"`
	Runbook         string              `json:"runbook"`
	Title           string              `json:"title,omitempty"`
	Version         int                 `json:"version"`
	VersionHash     string              `json:"versionHash"`
	Status          string              `json:"status"`
	Error           string              `json:"error,omitempty"`
	ErrorType       string              `json:"errorType,omitempty"`
	FailedStep      string              `json:"failedStep,omitempty"`
	Trigger         string              `json:"trigger"`
	TriggeredBy     string              `json:"triggeredBy"`
	TriggerDetail   string              `json:"triggerDetail,omitempty"`
	StartedBy       string              `json:"startedBy"`
	RerunOf         string              `json:"rerunOf,omitempty"`
	StartedAt       time.Time           `json:"startedAt"`
	EndedAt         *time.Time          `json:"endedAt"`
	DurationSeconds float64             `json:"durationSeconds"`
	Params          map[string]any      `json:"params"`
	Outputs         map[string]any      `json:"outputs"`
	Approvals       []reportApproval    `json:"approvals"`
	Decisions       []reportDecisionSet `json:"decisions"`
	Steps           []reportStep        `json:"steps"`
	StepsOmitted    int                 `json:"stepsOmitted"`
}

type reportApproval struct {
	Step   string           `json:"step"`
	Item   *int             `json:"item,omitempty"`
	Status string           `json:"status"`
	Votes  []workflows.Vote `json:"votes"`
}

type reportDecisionSet struct {
	Step      string               `json:"step"`
	Item      *int                 `json:"item,omitempty"`
	Decisions []workflows.Decision `json:"decisions"`
}

type reportStep struct {
	ID        string     `json:"id"`
	Item      *int       `json:"item,omitempty"`
	Phase     string     `json:"phase,omitempty"`
	Status    string     `json:"status"`
	StartedAt *time.Time `json:"startedAt,omitempty"`
	EndedAt   *time.Time `json:"endedAt,omitempty"`
	Seconds   *float64   `json:"seconds,omitempty"`
	Attempts  int        `json:"attempts,omitempty"`
	Error     string     `json:"error,omitempty"`
	ErrorType string     `json:"errorType,omitempty"`
}

// getReport answers GET /api/v1/runs/:id/report: JSON, or Markdown with
// format=markdown. A run still going has no report yet (409).
func (a *API) getReport(c echo.Context) error {
	format := c.QueryParam("format")
	if format != "" && format != "json" && format != "markdown" {
		return problem(http.StatusBadRequest, "format must be json or markdown", "format: "+format)
	}
	r, err := a.Store.Run(c.Param("id"))
	if err != nil {
		return notFoundOr(err, "no run "+c.Param("id"))
	}
	view := a.runView(c, r) // records a run found ended
	if !workflows.Ended(view.Status) {
		return problem(http.StatusConflict, fmt.Sprintf("run %s is %s: its report is made once it ends", r.ID, view.Status))
	}
	if rec, err := a.Store.Run(r.ID); err == nil {
		r = rec
	}
	steps := view.Steps
	if r.Recorded > 0 {
		steps = a.recordedSteps(r.ID)
		settleSteps(steps)
	}
	views := []runView{view}
	a.withHashes(views)
	rep := buildReport(views[0], steps)
	if v, err := a.Store.Runbook(r.Runbook, r.Version); err == nil {
		if p, err := v.PlanOf(); err == nil {
			rep.Title = p.Title
		}
	}
	if format == "markdown" {
		return c.Blob(http.StatusOK, "text/markdown; charset=utf-8", []byte(rep.markdown()))
	}
	return c.JSON(http.StatusOK, rep)
}

func buildReport(v runView, steps []workflows.StepState) *runReport {
	rep := &runReport{Run: v.ID, Runbook: v.Runbook, Version: v.Version, VersionHash: v.VersionHash, Status: v.Status,
		Error: v.Error, ErrorType: v.ErrorType, FailedStep: v.FailedStep, Trigger: v.Trigger, TriggeredBy: v.TriggeredBy,
		TriggerDetail: v.TriggerDetail, StartedBy: v.StartedBy, RerunOf: v.RerunOf, StartedAt: v.CreatedAt, EndedAt: v.EndedAt,
		Params: v.Params, Outputs: v.Outputs, Approvals: []reportApproval{}, Decisions: []reportDecisionSet{}, Steps: []reportStep{}}
	if rep.Params == nil {
		rep.Params = map[string]any{}
	}
	if rep.Outputs == nil {
		rep.Outputs = map[string]any{}
	}
	if v.EndedAt != nil {
		rep.DurationSeconds = v.EndedAt.Sub(v.CreatedAt).Seconds()
	}
	for _, s := range steps {
		if s.Kind == string(plan.StepApproval) && (len(s.Votes) > 0 || s.Status != workflows.StatusNotReached && s.Status != workflows.StatusSkipped && s.Status != workflows.StatusPending) {
			votes := s.Votes
			if votes == nil {
				votes = []workflows.Vote{}
			}
			rep.Approvals = append(rep.Approvals, reportApproval{Step: s.ID, Item: s.Item, Status: s.Status, Votes: votes})
		}
		if len(s.Decisions) > 0 {
			rep.Decisions = append(rep.Decisions, reportDecisionSet{Step: s.ID, Item: s.Item, Decisions: s.Decisions})
		}
		if len(rep.Steps) == MaxReportSteps {
			rep.StepsOmitted++
			continue
		}
		e := reportStep{ID: s.ID, Item: s.Item, Phase: s.Phase, Status: s.Status, StartedAt: s.StartedAt, EndedAt: s.EndedAt,
			Attempts: s.Attempts, Error: s.Error, ErrorType: s.ErrorType}
		if s.StartedAt != nil && s.EndedAt != nil {
			secs := s.EndedAt.Sub(*s.StartedAt).Seconds()
			e.Seconds = &secs
		}
		rep.Steps = append(rep.Steps, e)
	}
	return rep
}

// markdown renders the report as a Markdown document. Every value users
// or steps wrote is escaped for a table cell and for the HTML a Markdown
// renderer lets through.
func (r *runReport) markdown() string {
	var b strings.Builder
	title := r.Runbook
	if r.Title != "" {
		title = r.Title + " (" + r.Runbook + ")"
	}
	fmt.Fprintf(&b, "# Run report: %s\n\n", md(title))
	row := func(k, v string) { fmt.Fprintf(&b, "| %s | %s |\n", k, v) }
	b.WriteString("| | |\n|---|---|\n")
	row("Run", "`"+md(r.Run)+"`")
	row("Runbook", fmt.Sprintf("%s v%d, sha256 `%s`", md(r.Runbook), r.Version, md(r.VersionHash)))
	status := md(r.Status)
	if r.Error != "" {
		status += ": " + md(r.Error)
		if r.ErrorType != "" {
			status += " (" + md(r.ErrorType) + ")"
		}
	}
	if r.FailedStep != "" {
		status += ", at step " + md(r.FailedStep)
	}
	row("Status", status)
	trigger := md(r.Trigger)
	if r.TriggeredBy != "" {
		trigger += ": " + md(r.TriggeredBy)
	}
	row("Trigger", trigger)
	row("Started by", md(r.StartedBy))
	if r.RerunOf != "" {
		row("Rerun of", "`"+md(r.RerunOf)+"`")
	}
	row("Started", r.StartedAt.UTC().Format(time.RFC3339))
	if r.EndedAt != nil {
		row("Ended", fmt.Sprintf("%s, after %s s", r.EndedAt.UTC().Format(time.RFC3339), strconv.FormatFloat(r.DurationSeconds, 'f', 3, 64)))
	}
	values := func(heading string, m map[string]any) {
		fmt.Fprintf(&b, "\n## %s\n\n", heading)
		if len(m) == 0 {
			b.WriteString("None.\n")
			return
		}
		b.WriteString("| name | value |\n|---|---|\n")
		for _, k := range plan.SortedKeys(m) {
			row(md(k), md(reportValue(m[k])))
		}
	}
	values("Params", r.Params)
	values("Outputs", r.Outputs)

	b.WriteString("\n## Approvals\n\n")
	if len(r.Approvals) == 0 {
		b.WriteString("None.\n")
	}
	for _, a := range r.Approvals {
		fmt.Fprintf(&b, "- %s: %s\n", md(entryName(a.Step, a.Item)), md(a.Status))
		for _, v := range a.Votes {
			line := fmt.Sprintf("  - %s %s at %s", md(v.User), md(string(v.Decision)), v.At.UTC().Format(time.RFC3339))
			if v.Comment != "" {
				line += ": " + md(v.Comment)
			}
			b.WriteString(line + "\n")
		}
	}
	if len(r.Decisions) > 0 {
		b.WriteString("\n## Decisions\n\n")
		for _, d := range r.Decisions {
			fmt.Fprintf(&b, "- %s\n", md(entryName(d.Step, d.Item)))
			for _, x := range d.Decisions {
				line := fmt.Sprintf("  - %s %s at %s", md(x.User), md(string(x.Action)), x.At.UTC().Format(time.RFC3339))
				if x.Comment != "" {
					line += ": " + md(x.Comment)
				}
				b.WriteString(line + "\n")
			}
		}
	}

	b.WriteString("\n## Steps\n\n| step | phase | status | started | seconds | attempts | error |\n|---|---|---|---|---|---|---|\n")
	for _, s := range r.Steps {
		started, secs := "", ""
		if s.StartedAt != nil {
			started = s.StartedAt.UTC().Format(time.RFC3339)
		}
		if s.Seconds != nil {
			secs = strconv.FormatFloat(*s.Seconds, 'f', 3, 64)
		}
		errText := md(s.Error)
		if s.ErrorType != "" {
			errText += " (" + md(s.ErrorType) + ")"
		}
		attempts := ""
		if s.Attempts > 0 {
			attempts = strconv.Itoa(s.Attempts)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", md(entryName(s.ID, s.Item)), md(s.Phase), md(s.Status), started, secs, attempts, errText)
	}
	if r.StepsOmitted > 0 {
		fmt.Fprintf(&b, "\n%d more steps are not listed (GET /api/v1/runs/%s lists them).\n", r.StepsOmitted, md(r.Run))
	}
	return b.String()
}

func entryName(step string, item *int) string {
	if item != nil {
		return fmt.Sprintf("%s[%d]", step, *item)
	}
	return step
}

// reportValue is a value as JSON, strings as they are.
func reportValue(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// md escapes text for one Markdown table cell or list line: HTML, the
// cell separator, emphasis and code marks, and line breaks.
func md(s string) string {
	return mdEscaper.Replace(s)
}

var mdEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "|", `\|`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "\r\n", "<br>", "\n", "<br>", "\r", "<br>")
