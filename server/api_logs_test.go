package server

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	sdkworker "go.temporal.io/sdk/worker"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/steplog"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/worker"
)

// logSecret is printed by the noisy step; it must never be shown.
const logSecret = "tok-3f9a1c77e2b4"

const noisyRunbook = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: noisy}
spec:
  secrets: [LOGS_TOKEN]
  params: [{name: gate, type: string, required: true}]
  steps:
    - {id: hello, action: log, with: {message: "starting\nsecond line"}}
    - id: noisy
      action: shell
      with:
        env: {TOKEN: "${{ secrets.LOGS_TOKEN }}", GATE: "${{ params.gate }}"}
        script: |
          emit() {
            while [ $i -le $1 ]; do
              if [ $((i % 2)) -eq 0 ]; then echo "err $i" >&2; else echo "out $i token=$TOKEN"; fi
              i=$((i+1))
            done
          }
          i=1
          emit 5000
          n=0
          while [ ! -e "$GATE" ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n+1)); done
          emit 10000
          exit 3
`

const itemsRunbook = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: items}
spec:
  steps:
    - id: deploy
      forEach: "['a', 'b', 'c', 'd']"
      as: host
      steps:
        - {id: push, action: shell, with: {command: [echo, "pushing ${{ host }}"]}}
    - id: flaky
      action: shell
      retry: {maxAttempts: 2, initialInterval: 1s}
      with: {script: "echo try; exit 1"}
`

const cappedRunbook = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: capped}
spec:
  steps:
    - id: flood
      action: shell
      with:
        script: |
          i=1
          while [ $i -le 2000 ]; do
            echo "line $i"
            if [ $((i % 100)) -eq 0 ]; then sleep 0.3; fi
            i=$((i+1))
          done
`

// logsWorker runs a worker on its own task queue whose lines go to st.
func logsWorker(t *testing.T, st *store.Store, caps steplog.Caps) string {
	t.Helper()
	c := temporalStack(t)
	tq := fmt.Sprintf("logs-%d", time.Now().UnixNano())
	w := sdkworker.New(c, tq, sdkworker.Options{})
	worker.Register(w, &activities.Env{Secrets: activities.EnvSecrets{}, Logs: store.LogSink{Store: st, Caps: caps}})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return tq
}

type logsAnswer struct {
	RunID string `json:"runId"`
	Lines []struct {
		Seq     int64     `json:"seq"`
		At      time.Time `json:"at"`
		Step    string    `json:"step"`
		Item    *int      `json:"item"`
		Attempt int       `json:"attempt"`
		Stream  string    `json:"stream"`
		Text    string    `json:"text"`
	} `json:"lines"`
	Next   int64 `json:"next"`
	Ended  bool  `json:"ended"`
	Elided []struct {
		Step    string `json:"step"`
		Item    *int   `json:"item"`
		Attempt int    `json:"attempt"`
		Lines   int64  `json:"lines"`
		Bytes   int64  `json:"bytes"`
	} `json:"elided"`
}

// sseEvents reads a stream's events (name, data) until it closes.
func sseEvents(t *testing.T, resp *http.Response, each func(event, data string)) {
	t.Helper()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		if ev, ok := strings.CutPrefix(line, "event: "); ok {
			event = ev
		} else if data, ok := strings.CutPrefix(line, "data: "); ok {
			each(event, data)
		}
	}
}

func openSSE(t *testing.T, url, token string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	return resp
}

func waitRun(t *testing.T, cl apiClient, token, id string) runView {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var r runView
		cl.call("GET", "/api/v1/runs/"+id, token, nil, &r)
		if r.Status != "running" && r.Status != "" {
			return r
		}
	}
	t.Fatalf("run %s did not end", id)
	return runView{}
}

func TestStepLogs(t *testing.T) {
	t.Setenv("RUNBOOK_SECRET_LOGS_TOKEN", logSecret)
	eachStore(t, func(t *testing.T, st *store.Store) {
		c := temporalStack(t)
		api := &API{Store: st, Temporal: c, TaskQueue: logsWorker(t, st, steplog.Caps{}), Catalog: activities.Catalog(), Streams: StreamLimits{PerToken: 1}}
		srv := httptest.NewServer(api.Handler())
		defer srv.Close()
		cl := apiClient{t, srv.URL}
		admin, _, _ := st.CreateToken("root", []string{"admin"}, nil)
		viewer, _, _ := st.CreateToken("val", []string{"viewer"}, nil)
		for _, src := range []string{noisyRunbook, itemsRunbook, subRunbookDoc("kid", "    - {id: say, action: log, with: {message: from the child}}\n"),
			subRunbookDoc("parent", "    - {id: sub, runbook: {name: kid}}\n")} {
			if got := cl.call("POST", "/api/v1/runbooks", admin, src, nil); got != 201 {
				t.Fatalf("register: %d", got)
			}
		}
		gate := filepath.Join(t.TempDir(), "gate")
		var run runView
		if got := cl.call("POST", "/api/v1/runbooks/noisy/runs", admin, map[string]any{"params": map[string]any{"gate": gate}}, &run); got != 201 {
			t.Fatalf("start: %d", got)
		}

		// The first half of the lines arrives while the step waits at
		// the gate; a follow that starts then sees the rest live.
		var since int64
		for deadline := time.Now().Add(30 * time.Second); since < 5001; time.Sleep(100 * time.Millisecond) {
			var a logsAnswer
			if got := cl.call("GET", "/api/v1/runs/"+run.ID+"/steps/noisy/logs?tail=1", viewer, nil, &a); got != 200 {
				t.Fatalf("tail: %d", got)
			}
			if a.Ended || time.Now().After(deadline) {
				t.Fatalf("the first 5000 lines did not arrive while the step ran (next %d, ended %v)", a.Next, a.Ended)
			}
			if a.Next != since {
			}
			since = a.Next
		}
		resp := openSSE(t, srv.URL+"/api/v1/runs/"+run.ID+"/steps/noisy/logs?follow=true&since="+strconv.FormatInt(since, 10), viewer)
		defer resp.Body.Close()
		// A follow is a stream: it counts against the token's streams.
		var p Problem
		if got := cl.call("GET", "/api/v1/runs/"+run.ID+"/logs?follow=true", viewer, nil, &p, "Accept", "text/event-stream"); got != 429 || p.Error != "this token has 1 event streams open, the most it may" {
			t.Errorf("a second follow: %d %+v", got, p)
		}
		if err := os.WriteFile(gate, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		followed, last, end := 0, since, ""
		sseEvents(t, resp, func(event, data string) {
			switch event {
			case "line":
				var l struct {
					Seq  int64  `json:"seq"`
					Text string `json:"text"`
				}
				_ = json.Unmarshal([]byte(data), &l)
				if l.Seq != last+1 {
					t.Errorf("followed line %d after %d", l.Seq, last)
				}
				last = l.Seq
				followed++
			case "end":
				end = data
			}
		})
		if followed != 10002-int(since) || !strings.Contains(end, `"status":"failed"`) || !strings.Contains(end, `"next":10002`) {
			t.Errorf("follow from %d: %d lines, end %s", since, followed, end)
		}

		// Every line, in order, the secret masked.
		var lines []string
		var cursor int64
		for {
			var a logsAnswer
			if got := cl.call("GET", "/api/v1/runs/"+run.ID+"/logs?limit=3000&since="+strconv.FormatInt(cursor, 10), viewer, nil, &a); got != 200 {
				t.Fatalf("page after %d: %d", cursor, got)
			}
			if a.RunID != run.ID || !a.Ended || len(a.Elided) != 0 {
				t.Fatalf("answer: runId %q ended %v elided %v", a.RunID, a.Ended, a.Elided)
			}
			for _, l := range a.Lines {
				if l.Seq != cursor+1 || l.At.IsZero() || l.Attempt != 1 || l.Item != nil {
					t.Fatalf("line %+v after %d", l, cursor)
				}
				cursor = l.Seq
				lines = append(lines, l.Step+" "+l.Stream+" "+l.Text)
			}
			if len(a.Lines) < 3000 {
				break
			}
		}
		if len(lines) != 10002 || lines[0] != "hello log starting" || lines[1] != "hello log second line" {
			t.Fatalf("%d lines, first %q", len(lines), lines[:min(2, len(lines))])
		}
		next := map[string]int{"stdout": 1, "stderr": 2}
		for _, l := range lines[2:] {
			var stream, text string
			if _, err := fmt.Sscanf(l, "noisy %s", &stream); err != nil {
				t.Fatalf("line %q", l)
			}
			text = strings.TrimPrefix(l, "noisy "+stream+" ")
			want := fmt.Sprintf("err %d", next[stream])
			if stream == "stdout" {
				want = fmt.Sprintf("out %d token=***", next[stream])
			}
			if text != want {
				t.Fatalf("%s line %q, want %q", stream, text, want)
			}
			next[stream] += 2
		}
		if next["stdout"] != 10001 || next["stderr"] != 10002 || strings.Contains(strings.Join(lines, "\n"), logSecret) {
			t.Errorf("streams ended at %v", next)
		}

		// The run's error carries the last lines, bounded.
		r := waitRun(t, cl, viewer, run.ID)
		if !strings.HasPrefix(r.Error, "step noisy: exit code 3: err 10000\nlast 20 lines of output:\n") && !strings.HasPrefix(r.Error, "exit code 3: err 10000\nlast 20 lines of output:\n") {
			t.Errorf("run error = %q", r.Error)
		}
		// (stdout and stderr come through two pipes, read in bursts: the
		// tail is the last lines read, of either.)
		if strings.Count(r.Error, "\n") != 21 || strings.Contains(r.Error, logSecret) {
			t.Errorf("run error = %q", r.Error)
		}

		// The run's event stream carries the lines too.
		resp = openSSE(t, srv.URL+"/api/v1/runs/"+run.ID+"/events", viewer)
		defer resp.Body.Close()
		lineEvents, runEvent := 0, ""
		sseEvents(t, resp, func(event, data string) {
			if event == "line" {
				lineEvents++
			} else if event == "run" {
				runEvent = data
			}
		})
		if lineEvents != 10002 || !strings.Contains(runEvent, `"status":"failed"`) {
			t.Errorf("events: %d lines, run %s", lineEvents, runEvent)
		}

		// A forEach item by step[3] and by ?item=3.
		var items runView
		cl.call("POST", "/api/v1/runbooks/items/runs", admin, map[string]any{}, &items)
		waitRun(t, cl, viewer, items.ID)
		for _, path := range []string{"/steps/push%5B3%5D/logs", "/steps/push[3]/logs", "/steps/push/logs?item=3"} {
			var a logsAnswer
			if got := cl.call("GET", "/api/v1/runs/"+items.ID+path, viewer, nil, &a); got != 200 || len(a.Lines) != 1 ||
				a.Lines[0].Text != "pushing d" || a.Lines[0].Item == nil || *a.Lines[0].Item != 3 || a.Lines[0].Stream != "stdout" {
				t.Errorf("%s: %d %+v", path, got, a)
			}
		}
		var all logsAnswer
		cl.call("GET", "/api/v1/runs/"+items.ID+"/steps/push/logs", viewer, nil, &all)
		if len(all.Lines) != 4 {
			t.Errorf("every item: %+v", all.Lines)
		}
		// A sub-runbook's steps log under the child's run id.
		var parent runView
		cl.call("POST", "/api/v1/runbooks/parent/runs", admin, map[string]any{}, &parent)
		if r := waitRun(t, cl, viewer, parent.ID); r.Status != "succeeded" {
			t.Fatalf("parent: %+v", r)
		}
		var child logsAnswer
		if got := cl.call("GET", "/api/v1/runs/"+parent.ID+".sub/logs", viewer, nil, &child); got != 200 || len(child.Lines) != 1 ||
			child.Lines[0].Step != "say" || child.Lines[0].Text != "from the child" || !child.Ended {
			t.Errorf("child's lines: %d %+v", got, child)
		}
		// A retry's lines come under its attempt.
		var retried logsAnswer
		cl.call("GET", "/api/v1/runs/"+items.ID+"/steps/flaky/logs", viewer, nil, &retried)
		if len(retried.Lines) != 2 || retried.Lines[0].Attempt != 1 || retried.Lines[1].Attempt != 2 || retried.Lines[1].Text != "try" {
			t.Errorf("retried: %+v", retried.Lines)
		}

		// Bad requests.
		for path, want := range map[string]string{
			"/api/v1/runs/nope/logs":                                 "404 no run nope",
			"/api/v1/runs/" + run.ID + "/steps/nope/logs":            "404 runbook noisy version 1 has no step nope",
			"/api/v1/runs/" + run.ID + "/logs?since=-1":              `400 invalid logs query: since: must be a whole number 0 or more, not "-1"`,
			"/api/v1/runs/" + run.ID + "/logs?limit=10001":           `400 invalid logs query: limit: must be a whole number from 1 to 10000, not "10001"`,
			"/api/v1/runs/" + run.ID + "/logs?tail=x":                `400 invalid logs query: tail: must be a whole number from 1 to 10000, not "x"`,
			"/api/v1/runs/" + run.ID + "/logs?follow=yes":            `400 invalid logs query: follow: must be true or false, not "yes"`,
			"/api/v1/runs/" + run.ID + "/steps/noisy[2]/logs?item=1": "400 invalid logs query: step: noisy[2] and item=1 name different items",
		} {
			var p Problem
			got := cl.call("GET", path, viewer, nil, &p)
			text := fmt.Sprintf("%d %s", got, p.Error)
			if got == 400 && len(p.Details) == 1 {
				text += fmt.Sprintf(": %s", p.Details[0])
			}
			if text != want || p.Details == nil {
				t.Errorf("GET %s: %s, want %s", path, text, want)
			}
		}
	})
}

// Past the step cap, the head and the tail stay and the answer says
// how much was elided.
func TestStepLogsElideTheMiddle(t *testing.T) {
	eachStore(t, func(t *testing.T, st *store.Store) {
		c := temporalStack(t)
		api := &API{Store: st, Temporal: c, TaskQueue: logsWorker(t, st, steplog.Caps{StepBytes: 4096}), Catalog: activities.Catalog()}
		srv := httptest.NewServer(api.Handler())
		defer srv.Close()
		cl := apiClient{t, srv.URL}
		admin, _, _ := st.CreateToken("root", []string{"admin"}, nil)
		if got := cl.call("POST", "/api/v1/runbooks", admin, cappedRunbook, nil); got != 201 {
			t.Fatalf("register: %d", got)
		}
		var run runView
		cl.call("POST", "/api/v1/runbooks/capped/runs", admin, map[string]any{}, &run)
		if r := waitRun(t, cl, admin, run.ID); r.Status != "succeeded" {
			t.Fatalf("run: %+v", r)
		}
		var a logsAnswer
		if got := cl.call("GET", "/api/v1/runs/"+run.ID+"/steps/flood/logs?limit=10000", admin, nil, &a); got != 200 || len(a.Lines) == 0 {
			t.Fatalf("logs: %d", got)
		}
		if len(a.Elided) != 1 || a.Elided[0].Step != "flood" || a.Elided[0].Attempt != 1 || a.Elided[0].Item != nil {
			t.Fatalf("elided = %+v", a.Elided)
		}
		kept, bytes := int64(len(a.Lines)), int64(0)
		for _, l := range a.Lines {
			bytes += int64(len(l.Text))
		}
		// 2000 lines "line N": 16,893 bytes in all, in about 20 chunks.
		if kept+a.Elided[0].Lines != 2000 || bytes+a.Elided[0].Bytes != 16893 || bytes > 4096+1000 || a.Lines[0].Text != "line 1" || a.Lines[len(a.Lines)-1].Text != "line 2000" {
			t.Errorf("kept %d lines (%d bytes), elided %+v; first %q last %q", kept, bytes, a.Elided[0], a.Lines[0].Text, a.Lines[len(a.Lines)-1].Text)
		}
		if a.Next != a.Lines[len(a.Lines)-1].Seq || a.Next != 2000 {
			t.Errorf("next = %d", a.Next)
		}
	})
}
