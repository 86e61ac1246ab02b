package cluster

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// The round-robin alternates over its backends, and a dead one answers
// 502 with the API's error shape, so a client sees the loss and retries.
func TestRoundRobin(t *testing.T) {
	var bases []string
	for i := range 2 {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "api-%d %s", i+1, r.URL.Path)
		}))
		defer srv.Close()
		bases = append(bases, srv.URL)
	}
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	rr, err := NewRoundRobin(append(bases, dead.URL))
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(rr)
	defer front.Close()
	want := []struct {
		code int
		body string
	}{
		{200, "api-2 /readyz"},
		{502, `{"error": "upstream ` + dead.Listener.Addr().String() + `: unavailable", "details": []}`},
		{200, "api-1 /readyz"},
		{200, "api-2 /readyz"},
	}
	for i, w := range want {
		resp, err := http.Get(front.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != w.code || string(b) != w.body {
			t.Errorf("request %d: %d %q, want %d %q", i, resp.StatusCode, b, w.code, w.body)
		}
	}
}

// Temporal keeps membership ports in a smallint: every port picked fits.
func TestFreePortsFitASmallint(t *testing.T) {
	ports, err := freePorts(len(portKeys))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p < 20000 || p >= 32000 || seen[p] {
			t.Errorf("port %d (of %v)", p, ports)
		}
		seen[p] = true
	}
}
