package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/server"
	"github.com/opsrunbook/runbook/workflows"
)

// shownRun is a run as GET /api/v1/runs/:id answers it.
type shownRun struct {
	ID            string                 `json:"id"`
	Runbook       string                 `json:"runbook"`
	Version       int                    `json:"version"`
	VersionHash   string                 `json:"versionHash"`
	Status        string                 `json:"status"`
	Trigger       string                 `json:"trigger"`
	TriggerDetail string                 `json:"triggerDetail"`
	TriggeredBy   string                 `json:"triggeredBy"`
	StartedBy     string                 `json:"startedBy"`
	Params        map[string]any         `json:"params"`
	Outputs       map[string]any         `json:"outputs"`
	Error         string                 `json:"error"`
	ErrorType     string                 `json:"errorType"`
	FailedStep    string                 `json:"failedStep"`
	ExitMessage   string                 `json:"exitMessage"`
	CreatedAt     time.Time              `json:"createdAt"`
	EndedAt       *time.Time             `json:"endedAt"`
	Steps         []shownStep            `json:"steps"`
	StepsTotal    int                    `json:"stepsTotal"`
	Handovers     int                    `json:"handovers"`
	RerunOf       string                 `json:"rerunOf"`
	RerunFrom     string                 `json:"rerunFrom"`
	RerunReason   string                 `json:"rerunReason"`
	Reruns        []string               `json:"reruns"`
	Exceptions    []plan.FreezeException `json:"exceptions"`
}

// shownStep is one entry of a run's timeline, as the API answers it.
type shownStep = workflows.StepState

// entryName is an entry's step id, with its item inside a loop.
func entryName(s *shownStep) string {
	if s.Item != nil {
		return fmt.Sprintf("%s[%d]", s.ID, *s.Item)
	}
	return s.ID
}

// tailLine is a line of a step's log, as the logs route answers it.
type tailLine = server.LogLine

// showTail is how many log lines show prints of a failed step.
const showTail = 10

// showLogsOf is how many failed entries (loop items) show reads the logs
// of, so that a loop of a thousand failed items is not a thousand requests.
const showLogsOf = 10

// showValueWidth bounds each param and output value show prints; --json
// prints them whole.
const showValueWidth = 200

// runShow prints what a run did, for the person who has to understand it.
func runShow(args []string, out, errOut io.Writer) error {
	fs := flags("show", errOut)
	connect := clientFlags(fs)
	asJSON := fs.Bool("json", false, "print the run as GET /api/v1/runs/RUN answers it, every step included")
	pos, err := interleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("name exactly one run")
	}
	c := connect()
	raw, err := c.wholeRun(pos[0])
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(out, raw)
	}
	b, _ := json.Marshal(raw)
	var r shownRun
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("decoding the answer: %w", err)
	}
	var p *plan.Plan
	var rb struct {
		Hash string     `json:"hash"`
		Plan *plan.Plan `json:"plan"`
	}
	// Without the plan the run still shows; only which section a handler
	// step is in, and the hash, come from it when the run does not say.
	if _, err := c.do("GET", "/api/v1/runbooks/"+url.PathEscape(r.Runbook)+"?version="+strconv.Itoa(r.Version), nil, &rb); err == nil {
		p = rb.Plan
		if r.VersionHash == "" {
			r.VersionHash = rb.Hash
		}
	}
	logs := map[string][]tailLine{}
	for _, s := range r.Steps {
		if s.Status == workflows.StatusFailed && len(logs) < showLogsOf {
			logs[entryName(&s)] = c.tail(r.ID, s)
		}
	}
	printRun(out, &r, p, logs)
	return nil
}

// wholeRun gets a run with every entry of its timeline, page by page.
func (c *apiClient) wholeRun(id string) (map[string]any, error) {
	base := "/api/v1/runs/" + url.PathEscape(id) + "?stepsLimit=" + strconv.Itoa(workflows.MaxStepsLimit)
	run, err := c.object(base)
	if err != nil {
		return nil, err
	}
	steps, _ := run["steps"].([]any)
	n, _ := run["stepsTotal"].(json.Number) // absent: one page
	total, _ := n.Int64()
	for len(steps) < int(total) {
		page, err := c.object(base + "&stepsOffset=" + strconv.Itoa(len(steps)))
		if err != nil {
			return nil, err
		}
		more, _ := page["steps"].([]any)
		if len(more) == 0 {
			break
		}
		steps = append(steps, more...)
	}
	if steps != nil {
		run["steps"], run["stepsOffset"] = steps, 0
	}
	return run, nil
}

// object gets a JSON object, its numbers kept as written.
func (c *apiClient) object(path string) (map[string]any, error) {
	var raw json.RawMessage
	if _, err := c.do("GET", path, nil, &raw); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decoding the answer: %w", err)
	}
	return v, nil
}

// tail is the last log lines of a step; none where the API keeps no logs.
func (c *apiClient) tail(run string, s shownStep) []tailLine {
	q := url.Values{"tail": {strconv.Itoa(showTail)}}
	if s.Item != nil {
		q.Set("item", strconv.Itoa(*s.Item))
	}
	var res struct {
		Lines []tailLine `json:"lines"`
	}
	_, err := c.do("GET", "/api/v1/runs/"+url.PathEscape(run)+"/steps/"+url.PathEscape(s.ID)+"/logs?"+q.Encode(), nil, &res)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return nil
	}
	if err != nil {
		return []tailLine{{Stream: "error", Text: "the logs are not available: " + strings.ReplaceAll(err.Error(), "\n", "; ")}}
	}
	return res.Lines
}

// phases finds, for the steps of handler sections, which section each is
// in (and for compensate.steps, the step it undoes), for a server that
// does not say so itself.
func phases(p *plan.Plan) map[string][2]string {
	out := map[string][2]string{}
	if p == nil {
		return out
	}
	var walk func(steps []*plan.Step, phase, undoes string)
	walk = func(steps []*plan.Step, phase, undoes string) {
		for _, s := range steps {
			if phase != "" {
				out[s.ID] = [2]string{phase, undoes}
			}
			for _, sec := range s.Children() {
				switch sec.Field {
				case "compensate.steps":
					walk(sec.Steps, "compensate", s.ID)
				case "onError":
					walk(sec.Steps, phase, undoes) // a forEach's own handler shows with its items
				default:
					walk(sec.Steps, phase, undoes)
				}
			}
		}
	}
	walk(p.Steps, "", "")
	walk(p.OnFailure, "onFailure", "")
	walk(p.Finally, "finally", "")
	return out
}

// printRun writes the human layout of show.
func printRun(out io.Writer, r *shownRun, p *plan.Plan, logs map[string][]tailLine) {
	field := func(name, format string, a ...any) {
		fmt.Fprintf(out, "%-10s%s\n", name, indent(fmt.Sprintf(format, a...), "          "))
	}
	field("Run", "%s", r.ID)
	rb := fmt.Sprintf("%s v%d", r.Runbook, r.Version)
	if r.VersionHash != "" {
		rb += ", sha256 " + r.VersionHash
	}
	field("Runbook", "%s", rb)
	field("Status", "%s", r.Status)
	if r.Error != "" {
		e := r.Error
		if r.ErrorType != "" {
			e += " (" + r.ErrorType + ")"
		}
		field("Error", "%s", e)
	}
	if r.FailedStep != "" {
		label := "Failed at"
		if r.Status == workflows.RunCancelled {
			label = "Cancelled at" // the step the cancellation stopped
		}
		field(label, "%s", r.FailedStep)
	}
	if r.ExitMessage != "" {
		field("Exit", "%s", r.ExitMessage)
	}
	trigger := r.Trigger
	if r.TriggeredBy != "" {
		trigger += ": " + r.TriggeredBy
	}
	if r.TriggerDetail != "" && r.TriggerDetail != r.TriggeredBy {
		trigger += " (" + r.TriggerDetail + ")"
	}
	field("Trigger", "%s", trigger)
	field("Starter", "%s", or(r.StartedBy, "-"))
	field("Started", "%s", when(&r.CreatedAt))
	switch last := lastEnd(r.Steps); {
	case r.EndedAt != nil:
		field("Ended", "%s, after %s", when(r.EndedAt), span(r.EndedAt.Sub(r.CreatedAt)))
	case !workflows.Ended(r.Status):
		field("Ended", "- (running for %s)", span(time.Since(r.CreatedAt).Round(time.Second)))
	case last != nil:
		field("Ended", "not recorded yet; its last step ended %s, %s after the start", when(last), span(last.Sub(r.CreatedAt)))
	default:
		field("Ended", "not recorded yet")
	}
	if r.RerunOf != "" {
		of := r.RerunOf + ", from " + or(r.RerunFrom, "the top")
		if r.RerunReason != "" {
			of += ": " + strconv.Quote(r.RerunReason)
		}
		field("Rerun of", "%s", of)
	}
	if len(r.Reruns) > 0 {
		field("Reruns", "%s", strings.Join(r.Reruns, ", "))
	}
	for _, e := range r.Exceptions {
		field("Break-glass", "freeze %s (until %s), asked by %s: %s", e.Freeze, e.Until.UTC().Format(time.RFC3339), e.AskedBy, strconv.Quote(e.Why))
	}
	if r.Handovers > 0 {
		field("Handovers", "%d (the run continued as a new execution)", r.Handovers)
	}
	if len(r.Params) == 0 {
		field("Params", "none")
	}
	for i, k := range plan.SortedKeys(r.Params) {
		field(map[bool]string{true: "Params"}[i == 0], "%s = %s", k, valueText(r.Params[k]))
	}

	where := phases(p)
	var main, handlers []shownStep
	for _, s := range r.Steps {
		if s.Phase == "" {
			s.Phase, s.Compensates = where[s.ID][0], where[s.ID][1]
		}
		if s.Phase == "" || s.Phase == "onError" {
			main = append(main, s)
		} else {
			handlers = append(handlers, s)
		}
	}
	day := r.CreatedAt.UTC().Format(time.DateOnly)
	width := 4
	for _, s := range r.Steps {
		width = max(width, len(entryName(&s)))
	}
	fmt.Fprintln(out, "\nSteps")
	for _, s := range main {
		printStep(out, s, width, day, logs)
	}
	if len(main) == 0 {
		fmt.Fprintln(out, "  none yet")
	}

	var approvals []shownStep
	for _, s := range r.Steps {
		reached := s.Status != workflows.StatusPending && s.Status != workflows.StatusNotReached && s.Status != workflows.StatusSkipped
		if s.Kind == string(plan.StepApproval) && (len(s.Votes) > 0 || reached) {
			approvals = append(approvals, s)
		}
	}
	if len(approvals) > 0 {
		fmt.Fprintln(out, "\nApprovals")
		for _, s := range approvals {
			fmt.Fprintf(out, "  %s: %s", entryName(&s), s.Status)
			if s.MinApprovals > 0 {
				fmt.Fprintf(out, ", %d of %s", s.MinApprovals, or(strings.Join(s.Approvers, ", "), "-"))
			}
			if s.Message != "" {
				fmt.Fprintf(out, ": %q", s.Message)
			}
			fmt.Fprintln(out)
			if len(s.Quorum) > 0 {
				fmt.Fprintf(out, "    quorum: %s\n", quorumText(s.Quorum))
			}
			vw := 4
			for _, v := range s.Votes {
				vw = max(vw, len(v.User))
			}
			for _, v := range s.Votes {
				line := fmt.Sprintf("    %-*s  %-8s %s", vw, v.User, v.Decision, stampIn(&v.At, day))
				if v.Comment != "" {
					line += "  " + strconv.Quote(v.Comment)
				}
				for _, k := range plan.SortedKeys(v.Inputs) {
					line += fmt.Sprintf("  %s=%s", k, valueText(v.Inputs[k]))
				}
				fmt.Fprintln(out, line)
			}
			switch {
			case len(s.Votes) > 0:
			case s.Status == workflows.StatusWaitingApproval:
				fmt.Fprintln(out, "    no votes yet")
			default:
				fmt.Fprintln(out, "    no votes")
			}
		}
	}

	printDecisions(out, r.ID, r.Steps, day)

	// An action's own compensate (no compensate.steps of its own) has no
	// entry: its undo shows as one.
	undone := map[string]bool{}
	for _, s := range handlers {
		undone[s.Compensates] = true
	}
	for _, s := range r.Steps {
		if s.CompensationStartedAt != nil && !undone[s.ID] {
			u := shownStep{ID: s.ID, Phase: "compensate", Compensates: s.ID, StartedAt: s.CompensationStartedAt, EndedAt: s.CompensationEndedAt,
				Status: workflows.StatusSucceeded, Error: s.CompensationError}
			if s.CompensationError != "" {
				u.Status = workflows.StatusFailed
			}
			handlers = append(handlers, u)
		}
	}
	if len(handlers) > 0 {
		// In the order they ran; those that did not run last, in plan order.
		sort.SliceStable(handlers, func(i, j int) bool {
			a, b := handlers[i].StartedAt, handlers[j].StartedAt
			return a != nil && (b == nil || a.Before(*b))
		})
		fmt.Fprintln(out, "\nCompensations, onFailure and finally, in the order they ran")
		for _, s := range handlers {
			printStep(out, s, width, day, logs)
		}
	}

	fmt.Fprintln(out, "\nOutputs")
	if len(r.Outputs) == 0 {
		fmt.Fprintln(out, "  none")
	}
	for _, k := range plan.SortedKeys(r.Outputs) {
		fmt.Fprintf(out, "  %s = %s\n", k, valueText(r.Outputs[k]))
	}
}

// printDecisions lists the steps that wait for a decision or had one
// (onStepFailure: ask), with who decided what.
func printDecisions(out io.Writer, run string, steps []shownStep, day string) {
	var asked []shownStep
	for _, s := range steps {
		if s.Status == workflows.StatusWaitingDecision || len(s.Decisions) > 0 {
			asked = append(asked, s)
		}
	}
	if len(asked) == 0 {
		return
	}
	fmt.Fprintln(out, "\nDecisions")
	for _, s := range asked {
		fmt.Fprintf(out, "  %s: %s, deciders %s\n", entryName(&s), s.Status, or(strings.Join(s.Deciders, ", "), "any operator"))
		uw := 4
		for _, d := range s.Decisions {
			uw = max(uw, len(d.User))
		}
		for _, d := range s.Decisions {
			line := fmt.Sprintf("    %-*s  %-6s %s", uw, d.User, d.Action, stampIn(&d.At, day))
			if d.Comment != "" {
				line += "  " + strconv.Quote(d.Comment)
			}
			for _, k := range plan.SortedKeys(d.Inputs) {
				line += fmt.Sprintf("  inputs.%s=%s", k, valueText(d.Inputs[k]))
			}
			for _, k := range plan.SortedKeys(d.Outputs) {
				line += fmt.Sprintf("  outputs.%s=%s", k, valueText(d.Outputs[k]))
			}
			fmt.Fprintln(out, line)
		}
		if s.Status == workflows.StatusWaitingDecision {
			fmt.Fprintf(out, "    waiting: runbook decide %s %s retry|skip|fail\n", run, entryName(&s))
		}
	}
}

// printStep writes one timeline entry and what it produced or why it failed.
func printStep(out io.Writer, s shownStep, width int, day string, logs map[string][]tailLine) {
	took := ""
	if s.StartedAt != nil && s.EndedAt != nil {
		took = span(s.EndedAt.Sub(*s.StartedAt))
	}
	line := fmt.Sprintf("  %-*s  %-16s %-9s  %-8s", width, entryName(&s), s.Status, stampIn(s.StartedAt, day), took)
	var notes []string
	if s.Attempts > 1 {
		notes = append(notes, fmt.Sprintf("%d attempts", s.Attempts))
	}
	switch s.Phase {
	case "compensate":
		notes = append(notes, "compensate, undoes "+s.Compensates)
	case "onFailure", "finally":
		notes = append(notes, s.Phase)
	}
	if s.CompensationStartedAt != nil {
		notes = append(notes, "undone at "+stampIn(s.CompensationStartedAt, day))
	}
	if s.ReusedFrom != "" {
		notes = append(notes, "reused from "+s.ReusedFrom)
	}
	if len(notes) > 0 {
		line += "  " + strings.Join(notes, "; ")
	}
	fmt.Fprintln(out, strings.TrimRight(line, " "))
	if s.Error != "" {
		kind := ""
		if s.ErrorType != "" {
			kind = " (" + s.ErrorType + ")"
		}
		fmt.Fprintf(out, "      error%s: %s\n", kind, indent(s.Error, "        "))
	}
	if s.CompensationError != "" && s.Phase != "compensate" {
		fmt.Fprintf(out, "      undo failed: %s\n", indent(s.CompensationError, "        "))
	}
	if s.Kind != string(plan.StepApproval) && s.Message != "" {
		fmt.Fprintf(out, "      message: %s\n", indent(s.Message, "        "))
	}
	for _, k := range plan.SortedKeys(s.Outputs) {
		if s.Kind == string(plan.StepApproval) && (k == "votes" || k == "approvedBy" || k == "inputs" && isEmpty(s.Outputs[k])) {
			continue // under Approvals
		}
		fmt.Fprintf(out, "      %s = %s\n", k, valueText(s.Outputs[k]))
	}
	if lines := logs[entryName(&s)]; len(lines) > 0 && s.Status == workflows.StatusFailed {
		fmt.Fprintf(out, "      last %d log lines:\n", len(lines))
		for _, l := range lines {
			fmt.Fprintf(out, "        %s %-6s %s\n", stampIn(&l.At, day), l.Stream, l.Text)
		}
	}
}

// indent puts prefix before every line of s but the first, so that a
// multi-line error stays under the entry it belongs to.
func indent(s, prefix string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+prefix)
}

// lastEnd is when the last of the steps ended.
func lastEnd(steps []shownStep) *time.Time {
	var last *time.Time
	for _, s := range steps {
		for _, t := range []*time.Time{s.EndedAt, s.CompensationEndedAt} {
			if t != nil && (last == nil || t.After(*last)) {
				last = t
			}
		}
	}
	return last
}

// stampIn is a time as 15:04:05Z on the run's day, with the date on others.
func stampIn(t *time.Time, day string) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	if t.UTC().Format(time.DateOnly) == day {
		return t.UTC().Format("15:04:05Z")
	}
	return when(t)
}

func isEmpty(v any) bool {
	m, ok := v.(map[string]any)
	return v == nil || ok && len(m) == 0
}

// valueText is a value as JSON, shortened past showValueWidth.
func valueText(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return truncate(strings.TrimSuffix(b.String(), "\n"), showValueWidth)
}
