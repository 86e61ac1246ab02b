package server

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/worker"
)

// openStream opens the event stream of run with token; the caller closes
// the answer.
func openStream(t *testing.T, url, run, token string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", url+"/api/v1/runs/"+run+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// A token opens at most PerToken streams and the API serves at most
// Total: past either, 429 with {error, details[]}; a closed stream frees
// its slot.
func TestEventStreamsAreCapped(t *testing.T) {
	c := temporalStack(t)
	st := openSQLite(t)
	api := &API{Store: st, Temporal: c, TaskQueue: worker.TaskQueue, Catalog: activities.Catalog(), Streams: StreamLimits{PerToken: 2, Total: 3}}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	cl := apiClient{t, srv.URL}
	ann, _, _ := st.CreateToken("ann", []string{"admin"}, nil)
	bob, _, _ := st.CreateToken("bob", []string{"viewer"}, nil)
	src := "apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: long}\nspec:\n  steps:\n    - {id: wait, sleep: 1m}\n"
	if got := cl.call("POST", "/api/v1/runbooks", ann, src, nil); got != 201 {
		t.Fatalf("register: %d", got)
	}
	var run runView
	if got := cl.call("POST", "/api/v1/runbooks/long/runs", ann, map[string]any{}, &run); got != 201 {
		t.Fatalf("start: %d", got)
	}
	defer cl.call("POST", "/api/v1/runs/"+run.ID+"/cancel", ann, map[string]any{}, nil)
	refused := func(resp *http.Response, want string) {
		t.Helper()
		defer resp.Body.Close()
		var p Problem
		if err := json.NewDecoder(resp.Body).Decode(&p); resp.StatusCode != 429 || err != nil || p.Error != want || len(p.Details) != 1 {
			t.Errorf("past the cap: %d %+v %v, want 429 %q", resp.StatusCode, p, err, want)
		}
	}
	a1, a2 := openStream(t, srv.URL, run.ID, ann), openStream(t, srv.URL, run.ID, ann)
	defer a2.Body.Close()
	refused(openStream(t, srv.URL, run.ID, ann), "this token has 2 event streams open, the most it may")
	b1 := openStream(t, srv.URL, run.ID, bob)
	defer b1.Body.Close()
	for _, r := range []*http.Response{a1, a2, b1} {
		if r.StatusCode != 200 {
			t.Fatalf("a stream within the caps: %d", r.StatusCode)
		}
	}
	refused(openStream(t, srv.URL, run.ID, bob), "the API serves 3 event streams, the most it may")
	a1.Body.Close()
	waitFor(t, func() bool { return api.streams.open() == 2 })
	b2 := openStream(t, srv.URL, run.ID, bob)
	defer b2.Body.Close()
	if b2.StatusCode != 200 {
		t.Errorf("a stream after one closed: %d", b2.StatusCode)
	}
}

// smallBuffers makes the server's sockets buffer little, so that a reader
// that does not read blocks the stream's writes quickly.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(4096)
	}
	return c, err
}

// A reader that takes no event is dropped after the write timeout: the
// stream ends and frees its slot instead of waiting on it for ever.
func TestSlowStreamReaderIsDropped(t *testing.T) {
	c := temporalStack(t)
	st := openSQLite(t)
	api := &API{Store: st, Temporal: c, TaskQueue: worker.TaskQueue, Catalog: activities.Catalog(), Streams: StreamLimits{WriteTimeout: 300 * time.Millisecond}}
	srv := httptest.NewUnstartedServer(api.Handler())
	srv.Listener = smallBuffers{srv.Listener}
	srv.Start()
	defer srv.Close()
	cl := apiClient{t, srv.URL}
	admin, _, _ := st.CreateToken("root", []string{"admin"}, nil)
	src := "apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: many}\nspec:\n  steps:\n" +
		"    - id: each\n      forEach: lists.range(300)\n      maxConcurrency: 50\n      steps: [{id: say, action: log, with: {message: " + strings.Repeat("x", 20) + "}}]\n" +
		"    - {id: wait, sleep: 1m}\n"
	if got := cl.call("POST", "/api/v1/runbooks", admin, src, nil); got != 201 {
		t.Fatalf("register: %d", got)
	}
	var run runView
	if got := cl.call("POST", "/api/v1/runbooks/many/runs", admin, map[string]any{}, &run); got != 201 {
		t.Fatalf("start: %d", got)
	}
	defer cl.call("POST", "/api/v1/runs/"+run.ID+"/cancel", admin, map[string]any{}, nil)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.(*net.TCPConn).SetReadBuffer(1024)
	fmt.Fprintf(conn, "GET /api/v1/runs/%s/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nAccept: text/event-stream\r\n\r\n", run.ID, admin)
	waitFor(t, func() bool { return api.streams.open() == 1 })
	// The run keeps running (it sleeps a minute): only the dropped reader
	// ends the stream.
	start := time.Now()
	waitFor(t, func() bool { return api.streams.open() == 0 })
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("the stream of a reader that does not read ended after %s", took)
	}
	var v runView
	if cl.call("GET", "/api/v1/runs/"+run.ID, admin, nil, &v); v.Status != "running" {
		t.Errorf("the run ended (%s): the stream may have ended with it", v.Status)
	}
}
