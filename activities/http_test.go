package activities

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/opsrunbook/runbook/plan"
)

func testServer(t *testing.T) (*httptest.Server, *[]map[string]any) {
	t.Helper()
	var got []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var v map[string]any
		_ = json.Unmarshal(body, &v)
		got = append(got, map[string]any{"path": r.URL.Path, "method": r.Method, "body": v, "auth": r.Header.Get("Authorization")})
		switch r.URL.Path {
		case "/healthz":
			w.Write([]byte(`{"status":"ok","version":"v2"}`))
		case "/missing":
			http.NotFound(w, r)
		case "/broken":
			w.WriteHeader(http.StatusBadGateway)
		default:
			w.Header().Set("X-Request", "1")
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte(`{"id": 7}`))
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

func TestHTTPRequest(t *testing.T) {
	srv, got := testServer(t)
	e := &Env{}
	out, err := handlerOf(e, HTTPRequestSpec)(context.Background(), plan.ActionInput{Inputs: map[string]any{
		"url": srv.URL + "/deploy", "method": "POST", "json": map[string]any{"version": "v2"},
		"headers": map[string]any{"Authorization": "Bearer x"}}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Outputs["status"] != int64(201) || out.Outputs["json"].(map[string]any)["id"] != float64(7) || out.Outputs["headers"].(map[string]any)["x-request"] != "1" {
		t.Errorf("outputs = %v", out.Outputs)
	}
	if r := (*got)[0]; r["method"] != "POST" || r["body"].(map[string]any)["version"] != "v2" || r["auth"] != "Bearer x" {
		t.Errorf("request = %v", r)
	}
	_, err = handlerOf(e, HTTPRequestSpec)(context.Background(), plan.ActionInput{Inputs: map[string]any{"url": srv.URL + "/missing"}})
	if app := appErr(t, err); app.Type() != plan.ErrHTTPStatus || !app.NonRetryable() {
		t.Errorf("404: %v", app)
	}
	_, err = handlerOf(e, HTTPRequestSpec)(context.Background(), plan.ActionInput{Inputs: map[string]any{"url": srv.URL + "/broken"}})
	if app := appErr(t, err); app.Type() != plan.ErrHTTPStatus || app.NonRetryable() {
		t.Errorf("502 must be retryable: %v", app)
	}
	_, err = handlerOf(e, HTTPRequestSpec)(context.Background(), plan.ActionInput{Inputs: map[string]any{"url": "ftp://x/y"}})
	if app := appErr(t, err); app.Type() != plan.ErrBadInput {
		t.Errorf("bad scheme: %v", app)
	}
	_, err = handlerOf(e, HTTPRequestSpec)(context.Background(), plan.ActionInput{Inputs: map[string]any{"url": "http://127.0.0.1:" + closedPort(t) + "/"}})
	if app := appErr(t, err); app.Type() != plan.ErrUnreachable || app.NonRetryable() {
		t.Errorf("connection refused must be retryable: %v", app)
	}
}

func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	return port
}

func TestHTTPCheck(t *testing.T) {
	srv, _ := testServer(t)
	e := &Env{}
	for _, tt := range []struct {
		in      map[string]any
		healthy bool
		status  int64
	}{
		{map[string]any{"url": srv.URL + "/healthz", "bodyContains": "v2"}, true, 200},
		{map[string]any{"url": srv.URL + "/healthz", "bodyContains": "v3"}, false, 200},
		{map[string]any{"url": srv.URL + "/broken"}, false, 502},
		{map[string]any{"url": srv.URL + "/missing", "expectStatus": []any{404}}, true, 404},
		{map[string]any{"url": "http://127.0.0.1:" + closedPort(t) + "/", "timeout": "1s"}, false, 0},
	} {
		out, err := handlerOf(e, HTTPCheckSpec)(context.Background(), plan.ActionInput{Inputs: tt.in})
		if err != nil {
			t.Fatalf("%v: %v", tt.in, err)
		}
		if out.Outputs["healthy"] != tt.healthy || out.Outputs["status"] != tt.status {
			t.Errorf("%v: outputs %v", tt.in, out.Outputs)
		}
		if !tt.healthy && out.Outputs["error"] == "" {
			t.Errorf("%v: unhealthy without a reason", tt.in)
		}
	}
}

func TestTCPCheck(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	e := &Env{}
	out, err := handlerOf(e, TCPCheckSpec)(context.Background(), plan.ActionInput{Inputs: map[string]any{"host": "127.0.0.1", "port": l.Addr().(*net.TCPAddr).Port}})
	if err != nil || out.Outputs["healthy"] != true || out.Outputs["status"] != "open" {
		t.Errorf("open: %v, %v", out, err)
	}
	port, _ := strconv.Atoi(closedPort(t))
	out, err = handlerOf(e, TCPCheckSpec)(context.Background(), plan.ActionInput{Inputs: map[string]any{"host": "127.0.0.1", "port": port}})
	if err != nil || out.Outputs["healthy"] != false || out.Outputs["status"] != "refused" {
		t.Errorf("refused: %v, %v", out, err)
	}
}

func TestNotifyAndLog(t *testing.T) {
	srv, got := testServer(t)
	e := &Env{}
	if _, err := handlerOf(e, NotifySpec)(context.Background(), plan.ActionInput{Runbook: "rb", RunID: "r1", StepID: "n", Inputs: map[string]any{"url": srv.URL + "/hook", "text": "hello"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := handlerOf(e, NotifySpec)(context.Background(), plan.ActionInput{Runbook: "rb", RunID: "r1", StepID: "n", Inputs: map[string]any{"url": srv.URL + "/hook", "text": "hi", "format": "json", "data": map[string]any{"k": 1}}}); err != nil {
		t.Fatal(err)
	}
	if b := (*got)[0]["body"].(map[string]any); len(b) != 1 || b["text"] != "hello" {
		t.Errorf("slack payload = %v", b)
	}
	if b := (*got)[1]["body"].(map[string]any); b["run"] != "r1" || b["runbook"] != "rb" || b["data"].(map[string]any)["k"] != float64(1) {
		t.Errorf("json payload = %v", b)
	}
	_, err := handlerOf(e, NotifySpec)(context.Background(), plan.ActionInput{Inputs: map[string]any{"url": srv.URL + "/broken", "text": "x"}})
	if app := appErr(t, err); app.Type() != plan.ErrNotifyRejected || app.NonRetryable() {
		t.Errorf("502: %v", app)
	}
	out, err := handlerOf(e, LogSpec)(context.Background(), plan.ActionInput{Inputs: map[string]any{"message": "done", "level": "warn"}})
	if err != nil || out.Outputs["message"] != "done" {
		t.Errorf("log: %v, %v", out, err)
	}
}

// An approval's or a decision's notification ends with the link to its
// console page under the worker's public URL; a notify step's, and any
// notification without a public URL, have none.
func TestNotifyLinksToTheConsole(t *testing.T) {
	srv, got := testServer(t)
	for i, tc := range []struct {
		publicURL, link, want string
	}{
		{"https://runbooks.example.com/", "/runs/r1/approvals/board", "waits\nhttps://runbooks.example.com/runs/r1/approvals/board"},
		{"https://runbooks.example.com", "/runs/r1", "waits\nhttps://runbooks.example.com/runs/r1"},
		{"", "/runs/r1/approvals/board", "waits"},
		{"https://runbooks.example.com", "", "waits"},
	} {
		e := &Env{PublicURL: tc.publicURL}
		in := plan.ActionInput{Runbook: "rb", RunID: "r1", StepID: "board", Link: tc.link, Inputs: map[string]any{"url": srv.URL + "/hook", "text": "waits"}}
		if _, err := handlerOf(e, NotifySpec)(context.Background(), in); err != nil {
			t.Fatal(err)
		}
		if b := (*got)[i]["body"].(map[string]any); b["text"] != tc.want {
			t.Errorf("%+v: text %q, want %q", tc, b["text"], tc.want)
		}
	}
}
