package main

import (
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/workflows"
)

// rerunAnswer is what POST /api/v1/runs/:id/rerun answers.
type rerunAnswer struct {
	ID       string   `json:"id"`
	Status   string   `json:"status"`
	Reused   []string `json:"reused"`
	RunAgain []string `json:"runAgain"`
	NotRun   []string `json:"notRun"`
	Warnings []string `json:"warnings"`
}

// runRerun reruns one run that has ended (from the top, or resumed
// --from a step), or with --failed every failed run of a runbook, a few
// at a time, stopping at the first new failure.
func runRerun(args []string, out, errOut io.Writer) error {
	fs := flags("rerun", errOut)
	connect := clientFlags(fs)
	from := fs.String("from", "", "resume from this step (STEP or STEP[ITEM]); the steps before it reuse the run's results")
	latest := fs.Bool("latest", false, "run the runbook's latest version, not the one the run ran (approvals are asked again)")
	reason := fs.String("reason", "", "why, for the audit trail")
	breakGlass := fs.String("break-glass", "", "rerun during a freeze that allows break-glass, for this reason: the run waits for the freeze's break-glass approval first")
	follow := fs.Bool("follow", false, "print the new run's steps until it ends; exit 1 unless it succeeds")
	failed := fs.Bool("failed", false, "rerun every failed run of --runbook since --since (those that failed at --from, resumed from it; else each from its failed step)")
	runbook := fs.String("runbook", "", "with --failed: the runbook")
	since := fs.String("since", "24h", "with --failed: runs started at or after this time: RFC 3339 or a duration ago (2h, 7d)")
	width := fs.Int("max-concurrency", 1, "with --failed: how many reruns go at once")
	var params pairFlag
	fs.Var(&params, "p", "param as name=value over the run's params (repeatable; approvals are asked again)")
	pos, err := interleaved(fs, args)
	if err != nil {
		return err
	}
	body := map[string]any{}
	if *latest {
		body["version"] = "latest"
	}
	if *reason != "" {
		body["reason"] = *reason
	}
	if *breakGlass != "" {
		body["breakGlass"] = *breakGlass
	}
	if *failed {
		switch {
		case len(pos) != 0:
			return usagef("--failed takes no run: it reruns the failed runs of --runbook")
		case *runbook == "":
			return usagef("--failed needs --runbook NAME")
		case *width < 1:
			return usagef("--max-concurrency must be at least 1")
		case len(params) > 0:
			return usagef("--failed takes no -p: each run reruns with its own params")
		}
		t, err := pointInTime(*since, time.Now())
		if err != nil {
			return usagef("--since: %v", err)
		}
		return rerunFailed(connect(), *runbook, t, *from, *width, body, out)
	}
	if len(pos) != 1 {
		return usagef("name exactly one run")
	}
	c := connect()
	if len(params) > 0 {
		var run struct {
			Runbook string `json:"runbook"`
		}
		if _, err := c.do("GET", "/api/v1/runs/"+url.PathEscape(pos[0]), nil, &run); err != nil {
			return err
		}
		var rb struct {
			Plan *plan.Plan `json:"plan"`
		}
		if _, err := c.do("GET", "/api/v1/runbooks/"+url.PathEscape(run.Runbook), nil, &rb); err != nil {
			return err
		}
		given, err := parseParams(rb.Plan, params)
		if err != nil {
			return err
		}
		body["params"] = given
	}
	if *from != "" {
		body["from"] = *from
	}
	var ans rerunAnswer
	if _, err := c.do("POST", "/api/v1/runs/"+url.PathEscape(pos[0])+"/rerun", body, &ans); err != nil {
		return err
	}
	printRerun(out, pos[0], ans)
	if !*follow {
		return nil
	}
	status, err := c.follow(ans.ID, out)
	if err != nil {
		return err
	}
	if status != workflows.RunSucceeded {
		return &exitError{code: 1}
	}
	return nil
}

func printRerun(out io.Writer, old string, ans rerunAnswer) {
	fmt.Fprintf(out, "run %s started, rerunning %s\n", ans.ID, old)
	for _, l := range []struct {
		name string
		ids  []string
	}{{"reused", ans.Reused}, {"run again", ans.RunAgain}, {"not run", ans.NotRun}} {
		if len(l.ids) > 0 {
			fmt.Fprintf(out, "  %s: %s\n", l.name, strings.Join(l.ids, ", "))
		}
	}
	for _, w := range ans.Warnings {
		fmt.Fprintf(out, "  warning: %s\n", w)
	}
}

// rerunFailed reruns the failed runs of runbook since t, oldest first,
// width at a time; it starts no more once one fails again, waits for
// those going, and exits 1 if any failed.
func rerunFailed(c *apiClient, runbook string, t time.Time, from string, width int, body map[string]any, out io.Writer) error {
	q := url.Values{"runbook": {runbook}, "status": {workflows.RunFailed}, "since": {t.UTC().Format(time.RFC3339)}, "limit": {"500"}}
	var page struct {
		Runs []struct {
			ID         string `json:"id"`
			FailedStep string `json:"failedStep"`
		} `json:"runs"`
	}
	if _, err := c.do("GET", "/api/v1/runs?"+q.Encode(), nil, &page); err != nil {
		return err
	}
	type job struct{ id, from string }
	var jobs []job
	for i := len(page.Runs) - 1; i >= 0; i-- { // oldest first
		r := page.Runs[i]
		var rec struct {
			Reruns []string `json:"reruns"`
		}
		if _, err := c.do("GET", "/api/v1/runs/"+url.PathEscape(r.ID)+"?stepsLimit=1", nil, &rec); err != nil {
			return err
		}
		switch {
		case len(rec.Reruns) > 0: // rerun already
		case from != "" && r.FailedStep == from, from == "" && r.FailedStep != "":
			jobs = append(jobs, job{r.ID, r.FailedStep})
		}
	}
	fmt.Fprintf(out, "%d failed runs of %s to rerun\n", len(jobs), runbook)
	type result struct {
		old, id, status string
		err             error
	}
	done := make(chan result)
	going, next, failures, finished := 0, 0, 0, 0
	for next < len(jobs) || going > 0 {
		for going < width && next < len(jobs) && failures == 0 {
			j := jobs[next]
			next++
			going++
			go func() {
				b := map[string]any{"from": j.from}
				for k, v := range body {
					b[k] = v
				}
				var ans rerunAnswer
				if _, err := c.do("POST", "/api/v1/runs/"+url.PathEscape(j.id)+"/rerun", b, &ans); err != nil {
					done <- result{old: j.id, err: err}
					return
				}
				status, err := c.waitEnd(ans.ID)
				done <- result{old: j.id, id: ans.ID, status: status, err: err}
			}()
		}
		if going == 0 {
			break
		}
		r := <-done
		going--
		finished++
		switch {
		case r.err != nil:
			failures++
			fmt.Fprintf(out, "[%d/%d] %s: %v\n", finished, len(jobs), r.old, r.err)
		default:
			if r.status != workflows.RunSucceeded {
				failures++
			}
			fmt.Fprintf(out, "[%d/%d] %s -> %s %s\n", finished, len(jobs), r.old, r.id, r.status)
		}
	}
	if failures > 0 {
		fmt.Fprintf(out, "stopped after a failure: %d of %d rerun, %d not started\n", finished, len(jobs), len(jobs)-next)
		return &exitError{code: 1}
	}
	return nil
}

// waitEnd polls a run until it has ended and returns its status.
func (c *apiClient) waitEnd(id string) (string, error) {
	for {
		var run struct {
			Status string `json:"status"`
		}
		if _, err := c.do("GET", "/api/v1/runs/"+url.PathEscape(id)+"?stepsLimit=1", nil, &run); err != nil {
			return "", err
		}
		if workflows.Ended(run.Status) {
			return run.Status, nil
		}
		time.Sleep(time.Second)
	}
}
