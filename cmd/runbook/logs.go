package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"

	"github.com/opsrunbook/runbook/server"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/workflows"
)

// logPage is how many lines one read asks for: the API's most.
const logPage = 10000

// runLogs prints the lines a run's steps printed, or one step's: with -f
// it follows them live until the run ends, exiting 1 unless it succeeded.
func runLogs(args []string, out, errOut io.Writer) error {
	fs := flags("logs", errOut)
	connect := clientFlags(fs)
	follow := fs.Bool("f", false, "follow the lines live until the run ends; exit 1 unless it succeeds")
	since := fs.Int64("since", 0, "only lines after this seq (a cursor)")
	tail := fs.Int("tail", 0, "only the last N lines")
	pos, err := interleaved(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 0:
		return usagef("name a run")
	case len(pos) > 2:
		return usagef("unexpected argument %q", pos[2])
	case *since < 0:
		return usagef("--since must be 0 or more")
	case *tail < 0 || *tail > logPage:
		return usagef("--tail must be from 1 to %d", logPage)
	}
	path := "/api/v1/runs/" + url.PathEscape(pos[0]) + "/logs"
	if len(pos) == 2 {
		path = "/api/v1/runs/" + url.PathEscape(pos[0]) + "/steps/" + url.PathEscape(pos[1]) + "/logs"
	}
	c := connect()
	q := url.Values{}
	if *since > 0 {
		q.Set("since", strconv.FormatInt(*since, 10))
	}
	if *tail > 0 {
		q.Set("tail", strconv.Itoa(*tail))
	}
	if *follow {
		status, err := c.followLogs(path, q, out, errOut)
		if err != nil {
			return err
		}
		if status != workflows.RunSucceeded {
			fmt.Fprintf(errOut, "run %s ended: %s\n", pos[0], status)
			return &exitError{code: 1}
		}
		return nil
	}
	if *tail == 0 {
		q.Set("limit", strconv.Itoa(logPage))
	}
	for {
		var a server.Logs
		if _, err := c.do("GET", path+"?"+q.Encode(), nil, &a); err != nil {
			return err
		}
		for _, l := range a.Lines {
			printLogLine(out, l)
		}
		if *tail > 0 || len(a.Lines) < logPage {
			printElided(errOut, a.Elided)
			return nil
		}
		q.Set("since", strconv.FormatInt(a.Next, 10))
	}
}

// printLogLine prints TIME STEP[item] stream: text.
func printLogLine(out io.Writer, l server.LogLine) {
	name := l.Step
	if l.Item != nil {
		name = fmt.Sprintf("%s[%d]", l.Step, *l.Item)
	}
	if l.Attempt > 1 {
		name += fmt.Sprintf(" (attempt %d)", l.Attempt)
	}
	fmt.Fprintf(out, "%s %s %s: %s\n", l.At.UTC().Format("2006-01-02T15:04:05.000Z"), name, l.Stream, l.Text)
}

func printElided(errOut io.Writer, es []store.Elision) {
	for _, e := range es {
		name := e.Step
		if e.Item != nil {
			name = fmt.Sprintf("%s[%d]", e.Step, *e.Item)
		}
		fmt.Fprintf(errOut, "%s attempt %d: %d lines (%d bytes) in the middle of its output were elided, past the log limit\n", name, e.Attempt, e.Lines, e.Bytes)
	}
}

// followLogs prints lines from the logs' event stream and returns the
// run's final status.
func (c *apiClient) followLogs(path string, q url.Values, out, errOut io.Writer) (string, error) {
	q.Set("follow", "true")
	status, err := c.stream(path+"?"+q.Encode(), func(event, data string) (string, bool, error) {
		switch event {
		case "line":
			var l server.LogLine
			if err := json.Unmarshal([]byte(data), &l); err != nil {
				return "", true, fmt.Errorf("decoding a line: %w", err)
			}
			printLogLine(out, l)
		case "end":
			var end struct {
				Status string          `json:"status"`
				Elided []store.Elision `json:"elided"`
			}
			if err := json.Unmarshal([]byte(data), &end); err != nil {
				return "", true, fmt.Errorf("decoding the end: %w", err)
			}
			printElided(errOut, end.Elided)
			return end.Status, true, nil
		case "error":
			return "", true, fmt.Errorf("following the lines: %s", problemOf(0, []byte(data)))
		}
		return "", false, nil
	})
	if errors.Is(err, errStreamEnded) {
		err = fmt.Errorf("the line stream ended before the run did")
	}
	return status, err
}
