package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/workflows"
)

// runApprove votes on an approval, with the inputs the approval asks for.
func runApprove(args []string, out, errOut io.Writer) error {
	fs := flags("approve", errOut)
	connect := clientFlags(fs)
	reject := fs.Bool("reject", false, "vote to reject")
	comment := fs.String("m", "", "comment")
	wait := fs.Duration("wait", 0, "wait this long for the run to reach the step (0: vote now)")
	var inputs multiFlag
	fs.Var(&inputs, "input", "approval input as name=value (repeatable); a value that parses as JSON is sent as JSON, any other as a string")
	pos, err := interleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("name a run and a step")
	}
	given, err := parseInputs(inputs)
	if err != nil {
		return err
	}
	c := connect()
	if *wait > 0 {
		if err := c.awaitApproval(pos[0], pos[1], *wait); err != nil {
			return err
		}
	}
	decision := plan.VoteApprove
	if *reject {
		decision = plan.VoteReject
	}
	body := map[string]any{"decision": decision, "comment": *comment}
	if len(given) > 0 {
		body["inputs"] = given
	}
	var res struct {
		Decision  string `json:"decision"`
		Approvals int    `json:"approvals"`
		Needed    int    `json:"needed"`
	}
	if _, err := c.do("POST", "/api/v1/runs/"+url.PathEscape(pos[0])+"/approvals/"+url.PathEscape(pos[1]), body, &res); err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: %s (%d of %d approvals)\n", pos[1], res.Decision, res.Approvals, res.Needed)
	return nil
}

// parseInputs reads --input name=value pairs: a value that is valid JSON
// (42, true, null, "quoted", [1,2], {"a":1}) is that JSON value; anything
// else is the string as typed, so --input ticket=CHG-42 needs no quotes.
func parseInputs(args []string) (map[string]any, error) {
	out := map[string]any{}
	for _, a := range args {
		name, value, ok := strings.Cut(a, "=")
		if !ok || name == "" {
			return nil, usagef("--input %q: want name=value", a)
		}
		if _, dup := out[name]; dup {
			return nil, usagef("--input %s is given twice", name)
		}
		var v any
		if err := json.Unmarshal([]byte(value), &v); err != nil {
			v = value
		}
		out[name] = v
	}
	return out, nil
}

// awaitApproval polls a run until step waits for approval.
func (c *apiClient) awaitApproval(runID, step string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var run struct {
			Status string `json:"status"`
			Steps  []struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"steps"`
		}
		if _, err := c.do("GET", "/api/v1/runs/"+url.PathEscape(runID), nil, &run); err != nil {
			return err
		}
		for _, s := range run.Steps {
			if s.ID == step && s.Status == workflows.StatusWaitingApproval {
				return nil
			}
		}
		if workflows.Ended(run.Status) {
			return fmt.Errorf("run %s %s before %s waited for approval", runID, run.Status, step)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s of run %s did not wait for approval within %s", step, runID, timeout)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
