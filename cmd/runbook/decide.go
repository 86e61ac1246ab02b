package main

import (
	"fmt"
	"io"
	"net/url"

	"github.com/opsrunbook/runbook/workflows"
)

// Decisions on a step waiting under onStepFailure: ask.
var decideActions = []string{"retry", "skip", "fail"}

// runDecide decides on a failed step that waits for a decision.
func runDecide(args []string, out, errOut io.Writer) error {
	fs := flags("decide", errOut)
	connect := clientFlags(fs)
	comment := fs.String("m", "", "comment")
	item := fs.Int("item", -1, "the forEach item (or name the step STEP[ITEM])")
	var outputs, inputs multiFlag
	fs.Var(&outputs, "output", "with skip: an output of the step as name=value (repeatable; JSON values as JSON)")
	fs.Var(&inputs, "input", "with retry: an input of the action as name=value, replacing its with value (repeatable)")
	pos, err := interleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 3 {
		return usagef("name a run, a step and retry, skip or fail")
	}
	action := pos[2]
	known := false
	for _, a := range decideActions {
		known = known || a == action
	}
	if !known {
		return usagef("%q is not retry, skip or fail", action)
	}
	body := map[string]any{"action": action}
	if *comment != "" {
		body["comment"] = *comment
	}
	if *item >= 0 {
		body["item"] = *item
	}
	for flag, list := range map[string]multiFlag{"outputs": outputs, "inputs": inputs} {
		if len(list) == 0 {
			continue
		}
		given, err := parseInputs(list)
		if err != nil {
			return err
		}
		body[flag] = given
	}
	var entry workflows.StepState
	if _, err := connect().do("POST", "/api/v1/runs/"+url.PathEscape(pos[0])+"/steps/"+url.PathEscape(pos[1])+"/decision", body, &entry); err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: %s, now %s\n", pos[1], action, entry.Status)
	return nil
}
