package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/opsrunbook/runbook/workflows"
)

// runCancel asks a running run to cancel; a run that has already ended is
// said so, with its status, and exits 1.
func runCancel(args []string, out, errOut io.Writer) error {
	fs := flags("cancel", errOut)
	connect := clientFlags(fs)
	reason := fs.String("reason", "", "why, for the audit trail")
	pos, err := interleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("name exactly one run")
	}
	c := connect()
	var body any
	if *reason != "" {
		body = map[string]string{"reason": *reason}
	}
	_, err = c.do("POST", "/api/v1/runs/"+url.PathEscape(pos[0])+"/cancel", body, nil)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusConflict {
		var run struct {
			Status string `json:"status"`
		}
		if _, gerr := c.do("GET", "/api/v1/runs/"+url.PathEscape(pos[0]), nil, &run); gerr == nil && workflows.Ended(run.Status) {
			return fmt.Errorf("run %s has already ended: %s", pos[0], run.Status)
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "run %s cancelling\n", pos[0])
	return nil
}
