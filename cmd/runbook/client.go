package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/opsrunbook/runbook/workflows"
)

// apiClient talks to the API as the token's user.
type apiClient struct {
	addr, token string
	http        *http.Client
}

// clientFlags adds --addr and --token (RUNBOOK_ADDR, RUNBOOK_TOKEN).
func clientFlags(fs *flag.FlagSet) func() *apiClient {
	addr := fs.String("addr", envOr("RUNBOOK_ADDR", "http://127.0.0.1:8080"), "API address (RUNBOOK_ADDR)")
	token := secretFlag(fs, "token", "RUNBOOK_TOKEN", "", "API token (RUNBOOK_TOKEN)")
	return func() *apiClient {
		return &apiClient{addr: strings.TrimRight(*addr, "/"), token: *token, http: &http.Client{}}
	}
}

// apiError is an error answer of the API.
type apiError struct {
	Status  int
	Message string `json:"error"`
	Details []any  `json:"details"`
}

func (e *apiError) Error() string {
	var b strings.Builder
	b.WriteString(e.Message)
	if e.Status != 0 { // 0: an error event of a stream, not an answer
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	}
	for _, d := range e.Details {
		b.WriteString("\n  ")
		b.WriteString(detailText(d))
	}
	return b.String()
}

// detailText renders one of a problem's details: a diagnostic as
// line:col: path: message (hint), other objects as "key: value"
// pairs in key order, anything else as JSON.
func detailText(d any) string {
	switch d := d.(type) {
	case string:
		return d
	case map[string]any:
		if msg, ok := d["message"].(string); ok {
			var b strings.Builder
			if pos, ok := d["pos"].(map[string]any); ok {
				// The API names every body runbook.yaml; the caller
				// prefixes the file it sent.
				fmt.Fprintf(&b, "%v:%v: ", pos["line"], pos["col"])
			}
			if sev, _ := d["severity"].(string); sev == "warning" {
				b.WriteString("warning: ")
			}
			if p, ok := d["path"].(string); ok && p != "" {
				b.WriteString(p + ": ")
			}
			b.WriteString(msg)
			if h, ok := d["hint"].(string); ok && h != "" {
				b.WriteString(" (" + h + ")")
			}
			return b.String()
		}
		keys := make([]string, 0, len(d))
		for k := range d {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ": " + scalarText(d[k])
		}
		return strings.Join(parts, ", ")
	}
	return scalarText(d)
}

func scalarText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	j, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(j)
}

// problemOf reads an error answer: {error, details[]}, or its text.
func problemOf(status int, raw []byte) *apiError {
	e := &apiError{Status: status}
	if json.Unmarshal(raw, e) != nil || e.Message == "" {
		e.Message = strings.TrimSpace(string(raw))
	}
	return e
}

// do sends a request and decodes a JSON answer into out.
func (c *apiClient) do(method, path string, body any, out any, header ...string) (int, error) {
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return 0, err
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.addr+path, r)
	if err != nil {
		return 0, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", c.addr, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode >= 400 {
		return resp.StatusCode, problemOf(resp.StatusCode, raw)
	}
	if b, ok := out.(*[]byte); ok { // the body as it is (a Markdown report)
		*b = raw
		return resp.StatusCode, nil
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decoding the answer: %w", err)
		}
	}
	return resp.StatusCode, nil
}

// follow prints a run's step transitions from its event stream and
// returns the run's final status.
func (c *apiClient) follow(runID string, out io.Writer) (string, error) {
	status, err := c.stream("/api/v1/runs/"+url.PathEscape(runID)+"/events", func(event, data string) (string, bool, error) {
		var v struct {
			ID     string     `json:"id"`
			Item   *int       `json:"item"`
			Status string     `json:"status"`
			At     *time.Time `json:"at"`
			// An undo happens after the step ended: its time is the undo's.
			CompensationStartedAt *time.Time `json:"compensationStartedAt"`
			CompensationEndedAt   *time.Time `json:"compensationEndedAt"`
			StartedAt             *time.Time `json:"startedAt"`
			EndedAt               *time.Time `json:"endedAt"`
			Error                 string     `json:"error"`
			Message               string     `json:"message"`
			ReusedFrom            string     `json:"reusedFrom"`
		}
		_ = json.Unmarshal([]byte(data), &v)
		switch event {
		case "step":
			name := v.ID
			if v.Item != nil {
				name = fmt.Sprintf("%s[%d]", v.ID, *v.Item)
			}
			stamp := clock(v.At, v.EndedAt, v.StartedAt)
			if v.Status == workflows.StatusCompensated {
				stamp = clock(v.At, v.CompensationEndedAt, v.CompensationStartedAt, v.EndedAt)
			}
			if v.Status == workflows.StatusReused {
				// Its times are the earlier run's: this run did not run it.
				stamp = clock(v.At)
			}
			line := fmt.Sprintf("%s  %-24s %s", stamp, name, v.Status)
			switch {
			case v.Status == workflows.StatusReused && v.ReusedFrom != "":
				line += " (from " + v.ReusedFrom + ")"
			case v.StartedAt != nil && v.EndedAt != nil:
				line += fmt.Sprintf(" (%s)", v.EndedAt.Sub(*v.StartedAt).Round(time.Millisecond))
			}
			if v.Error != "" {
				line += ": " + indent(v.Error, followIndent)
			} else if v.Status == "waiting-approval" && v.Message != "" {
				line += ": " + v.Message
			}
			fmt.Fprintln(out, line)
		case "run":
			fmt.Fprintf(out, "%s  run %s %s", clock(v.At, v.EndedAt), runID, v.Status)
			if v.Error != "" {
				fmt.Fprintf(out, ": %s", indent(v.Error, followIndent))
			}
			fmt.Fprintln(out)
			return v.Status, true, nil
		case "error":
			return "", true, fmt.Errorf("following %s: %s", runID, problemOf(0, []byte(data)))
		}
		return "", false, nil
	})
	if errors.Is(err, errStreamEnded) {
		err = fmt.Errorf("the event stream of %s ended early", runID)
	}
	return status, err
}

// followIndent starts the further lines of a multi-line error under the
// step's name, past the time.
const followIndent = "           "

// clock is when an event happened, as the first known of times says, in
// UTC (15:04:05Z), never the local clock of whoever watches; blank when
// the server says no time (a step not started yet).
func clock(times ...*time.Time) string {
	for _, t := range times {
		if t != nil && !t.IsZero() {
			return t.UTC().Format("15:04:05Z")
		}
	}
	return "         "
}
