package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/workflows"
)

// Limits of a logs read.
const (
	DefaultLogLimit = 1000
	MaxLogLimit     = 10000
)

// logsQuery documents the query parameters of the logs routes.
var logsQuery = []any{
	map[string]any{"name": "since", "in": "query", "schema": map[string]any{"type": "integer", "minimum": 0},
		"description": "Cursor: only lines with a greater seq (the answer's next)."},
	map[string]any{"name": "limit", "in": "query", "schema": map[string]any{"type": "integer", "minimum": 1, "maximum": MaxLogLimit},
		"description": fmt.Sprintf("At most this many lines, the first after since (default %d, at most %d).", DefaultLogLimit, MaxLogLimit)},
	map[string]any{"name": "tail", "in": "query", "schema": map[string]any{"type": "integer", "minimum": 1, "maximum": MaxLogLimit},
		"description": "Instead of limit: the last N lines after since."},
	map[string]any{"name": "item", "in": "query", "schema": map[string]any{"type": "integer", "minimum": 0},
		"description": "The forEach item (as step[N] in the path does); without it, every item's lines."},
	map[string]any{"name": "follow", "in": "query", "schema": map[string]any{"type": "boolean"},
		"description": "Server-sent events: `event: line` with one line each, live, then `event: end` ({runId, status, next, elided}) once the run has ended and every line was sent. Bounded as the run's event stream is."},
}

// LogLine is one line as the logs routes show it (the CLI reads it too).
type LogLine struct {
	Seq     int64     `json:"seq"`
	At      time.Time `json:"at"`
	Step    string    `json:"step"`
	Item    *int      `json:"item,omitempty"`
	Attempt int       `json:"attempt"`
	Stream  string    `json:"stream"`
	Text    string    `json:"text"`
}

// Logs is the answer of a logs read.
type Logs struct {
	RunID  string          `json:"runId"`
	Lines  []LogLine       `json:"lines"`
	Next   int64           `json:"next"`
	Ended  bool            `json:"ended"`
	Elided []store.Elision `json:"elided"`
}

func lineView(l store.LogLine) LogLine {
	v := LogLine{Seq: l.Seq, At: l.At, Step: l.Step, Attempt: l.Attempt, Stream: l.Stream, Text: l.Text}
	if l.Item >= 0 {
		item := l.Item
		v.Item = &item
	}
	return v
}

var stepRef = regexp.MustCompile(`^([^\[\]]+)(?:\[([0-9]+)\])?$`)

// logQuery reads what a logs request asks for, checking the run and the
// step against the run's runbook version. Every bad parameter is one of
// the details of a 400, as is a parameter the routes do not know.
func (a *API) logQuery(c echo.Context) (store.LogQuery, error) {
	q := store.LogQuery{RunID: c.Param("id"), Limit: DefaultLogLimit}
	if err := a.logRun(c.Request().Context(), q.RunID); err != nil {
		return q, err
	}
	params := c.QueryParams()
	bad := queryProblems(params, queryNames(logsQuery))
	ints := []struct {
		name     string
		min, max int64
		set      func(int64)
	}{
		{"since", 0, -1, func(n int64) { q.Since = n }},
		{"limit", 1, MaxLogLimit, func(n int64) { q.Limit = int(n) }},
		{"tail", 1, MaxLogLimit, func(n int64) { q.Tail = int(n) }},
		{"item", 0, math.MaxInt32, func(n int64) { i := int(n); q.Item = &i }},
	}
	for _, p := range ints {
		s := params.Get(p.name)
		if s == "" {
			continue
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < p.min || p.max > 0 && n > p.max {
			rng := fmt.Sprintf("%d or more", p.min)
			if p.max > 0 {
				rng = fmt.Sprintf("from %d to %d", p.min, p.max)
			}
			bad = append(bad, fmt.Sprintf("%s: must be a whole number %s, not %q", p.name, rng, s))
			continue
		}
		p.set(n)
	}
	if f := params.Get("follow"); f != "" && f != "true" && f != "false" {
		bad = append(bad, fmt.Sprintf("follow: must be true or false, not %q", f))
	}
	ref, err := url.PathUnescape(c.Param("step"))
	m := stepRef.FindStringSubmatch(ref)
	switch {
	case err != nil || ref != "" && m == nil:
		bad = append(bad, fmt.Sprintf("step: %q is not a step id or step[item]", c.Param("step")))
	case ref == "" && params.Get("item") != "":
		bad = append(bad, "item: needs a step: GET /api/v1/runs/:id/steps/:step/logs?item=N")
	case ref != "":
		q.Step = m[1]
		if m[2] == "" {
			break
		}
		n, err := strconv.ParseInt(m[2], 10, 64)
		switch {
		case err != nil || n > math.MaxInt32:
			bad = append(bad, fmt.Sprintf("step: item %s of %s must be a whole number from 0 to %d", m[2], ref, math.MaxInt32))
		case q.Item != nil && int64(*q.Item) != n:
			bad = append(bad, fmt.Sprintf("step: %s and item=%d name different items", ref, *q.Item))
		default:
			i := int(n)
			q.Item = &i
		}
	}
	if bad != nil {
		return q, problem(http.StatusBadRequest, "invalid logs query", bad...)
	}
	if q.Step == "" {
		return q, nil
	}
	return q, a.checkLogStep(q.RunID, q.Step, q.Item != nil)
}

// logRun answers 404 for a run with no record and no lines (a
// sub-runbook's run has lines but no record of its own).
func (a *API) logRun(ctx context.Context, id string) error {
	_, err := a.Store.Run(id)
	if errors.Is(err, store.ErrNotFound) {
		has, herr := a.Store.HasLogs(ctx, id)
		if herr != nil {
			return herr
		}
		if !has {
			return problem(http.StatusNotFound, "no run "+id, "GET /api/v1/runs lists the runs")
		}
		return nil
	}
	return err
}

// checkLogStep answers 404 for a step the run's runbook version lacks,
// and for an item of a step that has none (is not inside a forEach).
func (a *API) checkLogStep(runID, step string, item bool) error {
	r, err := a.Store.Run(runID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // a sub-runbook's run: its lines say which steps it has
	} else if err != nil {
		return err
	}
	p, err := a.runPlan(r)
	if err != nil {
		return err
	}
	if p.Step(step) == nil {
		return problem(http.StatusNotFound, fmt.Sprintf("runbook %s version %d has no step %s", r.Runbook, r.Version, step),
			"GET /api/v1/runs/"+runID+" lists the run's steps")
	}
	if item && !inForEach(p, step) {
		return problem(http.StatusNotFound, fmt.Sprintf("step %s of runbook %s version %d is not inside a forEach, so it has no items", step, r.Runbook, r.Version),
			"GET /api/v1/runs/"+runID+"/steps/"+step+"/logs answers its lines")
	}
	return nil
}

// inForEach reports whether step id is inside a forEach's sections, at
// any depth: only such a step's lines have an item.
func inForEach(p *plan.Plan, id string) bool {
	var walk func(steps []*plan.Step, inside bool) (found, in bool)
	walk = func(steps []*plan.Step, inside bool) (bool, bool) {
		for _, s := range steps {
			if s.ID == id {
				return true, inside
			}
			for _, sec := range s.Children() {
				if found, in := walk(sec.Steps, inside || s.Kind == plan.StepForEach); found {
					return true, in
				}
			}
		}
		return false, false
	}
	for _, sec := range p.Sections() {
		if found, in := walk(sec.Steps, false); found {
			return in
		}
	}
	return false
}

// runEnded reports whether a run's workflow has closed, and (withStatus)
// its status when it has: every line of it is then in the records, since
// an action flushes its lines before it returns.
func (a *API) runEnded(ctx context.Context, id string, withStatus bool) (bool, string, error) {
	d, err := a.Temporal.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		// Past Temporal's retention the record says how it ended.
		if r, rerr := a.Store.Run(id); rerr == nil && workflows.Ended(r.Status) {
			return true, r.Status, nil
		}
		return false, "", err
	}
	if d.WorkflowExecutionInfo.Status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return false, workflows.RunRunning, nil
	}
	if !withStatus {
		return true, "", nil
	}
	st, _, err := a.liveStatus(ctx, id)
	if err != nil {
		return true, closedStatus(d.WorkflowExecutionInfo.Status), nil
	}
	return true, st.Status, nil
}

// getLogs answers a run's lines, or one step's (GET .../logs).
func (a *API) getLogs(c echo.Context) error {
	q, err := a.logQuery(c)
	if err != nil {
		return err
	}
	if c.QueryParam("follow") == "true" {
		return a.followLogs(c, q)
	}
	ctx := c.Request().Context()
	// Whether it ended is read first: lines read after are then all there are.
	ended, _, err := a.runEnded(ctx, q.RunID, false)
	if err != nil {
		ended = false
	}
	lines, elided, err := a.Store.Logs(ctx, q)
	if err != nil {
		return err
	}
	out := Logs{RunID: q.RunID, Lines: make([]LogLine, 0, len(lines)), Next: q.Since, Ended: ended, Elided: elided}
	for _, l := range lines {
		out.Lines = append(out.Lines, lineView(l))
		out.Next = l.Seq
	}
	return c.JSON(http.StatusOK, out)
}

// followLogs sends lines as server-sent events until the run has ended
// and its last line was sent.
func (a *API) followLogs(c echo.Context, q store.LogQuery) error {
	send, release, err := a.openStream(c)
	if err != nil {
		return err
	}
	defer release()
	ctx := c.Request().Context()
	if q.Tail > 0 {
		lines, _, err := a.Store.Logs(ctx, q)
		if err != nil {
			return send("error", Problem{Error: "the lines are not available: " + err.Error(), Details: []any{}})
		}
		for _, l := range lines {
			if err := send("line", lineView(l)); err != nil {
				return nil
			}
			q.Since = l.Seq
		}
		q.Tail = 0
	}
	q.Limit = MaxLogLimit
	for {
		ended, status, err := a.runEnded(ctx, q.RunID, true)
		if err != nil {
			return send("error", Problem{Error: "the run's status is not available: " + err.Error(), Details: []any{}})
		}
		elided, err := a.sendLines(ctx, send, &q)
		if err != nil {
			return nil
		}
		if ended {
			return send("end", map[string]any{"runId": q.RunID, "status": status, "next": q.Since, "elided": elided})
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(StreamEvery):
		}
	}
}

// errStreamEnded ends a stream that sent its "error" event.
var errStreamEnded = errors.New("the stream ended with an error event")

// sendLines sends every line after q.Since as a "line" event, moving
// q.Since on; it returns the elisions the last read saw, or an error once
// the stream must end (the reader went away, or the records failed and
// an "error" event said so).
func (a *API) sendLines(ctx context.Context, send func(string, any) error, q *store.LogQuery) ([]store.Elision, error) {
	for {
		lines, elided, err := a.Store.Logs(ctx, *q)
		if err != nil {
			_ = send("error", Problem{Error: "the lines are not available: " + err.Error(), Details: []any{}})
			return nil, errStreamEnded
		}
		for _, l := range lines {
			if err := send("line", lineView(l)); err != nil {
				return nil, err
			}
			q.Since = l.Seq
		}
		if len(lines) < q.Limit {
			return elided, nil
		}
	}
}
