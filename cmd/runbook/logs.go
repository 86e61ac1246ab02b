package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/opsrunbook/runbook/workflows"
)

// logLine is a line as the API answers it.
type logLine struct {
	Seq     int64     `json:"seq"`
	At      time.Time `json:"at"`
	Step    string    `json:"step"`
	Item    *int      `json:"item"`
	Attempt int       `json:"attempt"`
	Stream  string    `json:"stream"`
	Text    string    `json:"text"`
}

type logElision struct {
	Step    string `json:"step"`
	Item    *int   `json:"item"`
	Attempt int    `json:"attempt"`
	Lines   int64  `json:"lines"`
	Bytes   int64  `json:"bytes"`
}

type logsAnswer struct {
	Lines  []logLine    `json:"lines"`
	Next   int64        `json:"next"`
	Ended  bool         `json:"ended"`
	Elided []logElision `json:"elided"`
}

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
		var a logsAnswer
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
func printLogLine(out io.Writer, l logLine) {
	name := l.Step
	if l.Item != nil {
		name = fmt.Sprintf("%s[%d]", l.Step, *l.Item)
	}
	if l.Attempt > 1 {
		name += fmt.Sprintf(" (attempt %d)", l.Attempt)
	}
	fmt.Fprintf(out, "%s %s %s: %s\n", l.At.UTC().Format("2006-01-02T15:04:05.000Z"), name, l.Stream, l.Text)
}

func printElided(errOut io.Writer, es []logElision) {
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
	req, err := http.NewRequest("GET", c.addr+path+"?"+q.Encode(), nil)
	if err != nil {
		return "", err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("%s: %w", c.addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e := &apiError{Status: resp.StatusCode}
		raw, _ := io.ReadAll(resp.Body)
		if json.Unmarshal(raw, e) != nil || e.Message == "" {
			e.Message = fmt.Sprintf("HTTP %d", resp.StatusCode)
		}
		return "", e
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		if ev, ok := strings.CutPrefix(line, "event: "); ok {
			event = ev
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		switch event {
		case "line":
			var l logLine
			if err := json.Unmarshal([]byte(data), &l); err != nil {
				return "", fmt.Errorf("decoding a line: %w", err)
			}
			printLogLine(out, l)
		case "end":
			var end struct {
				Status string       `json:"status"`
				Elided []logElision `json:"elided"`
			}
			if err := json.Unmarshal([]byte(data), &end); err != nil {
				return "", fmt.Errorf("decoding the end: %w", err)
			}
			printElided(errOut, end.Elided)
			return end.Status, nil
		case "error":
			return "", fmt.Errorf("following the lines: %s", data)
		}
	}
	return "", fmt.Errorf("the line stream ended before the run did")
}
