package server

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsrunbook/runbook/store"
)

// openSQLite is a SQLite store in the test's directory.
func openSQLite(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "abuse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// httpSeries counts the series of the HTTP request metrics.
func httpSeries(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "runbook_http_requests_total{") || strings.HasPrefix(line, "runbook_http_request_seconds_count{") {
			n++
		}
	}
	return n
}

// Random methods and paths, with or without a token, fold into one
// "OTHER"/"unmatched" series: they cannot grow /metrics.
func TestMetricsLabelsAreBounded(t *testing.T) {
	api := &API{Store: openSQLite(t)}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	send := func(i int) {
		req, _ := http.NewRequest(fmt.Sprintf("M%06d", i), fmt.Sprintf("%s/x/%d", srv.URL, i), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		req, _ = http.NewRequest(fmt.Sprintf("Q%06d", i), srv.URL+"/api/v1/runs", nil)
		if resp, err = http.DefaultClient.Do(req); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	send(0)
	httpSeries(t, srv.URL) // the scrape's own series
	before := httpSeries(t, srv.URL)
	for i := 1; i < 300; i++ {
		send(i)
	}
	if after := httpSeries(t, srv.URL); after != before {
		t.Errorf("300 random methods and paths grew the HTTP series from %d to %d", before, after)
	}
	for _, tt := range []struct{ method, route, wantMethod, wantRoute string }{
		{"GET", "/api/v1/runs/:id", "GET", "/api/v1/runs/:id"},
		{"DELETE", "/api/v1/runs", "DELETE", "unmatched"},
		{"BREW", "/api/v1/runs", "OTHER", "unmatched"},
		{"GET", "/nope/thing", "GET", "unmatched"},
		{"GET", "", "GET", "unmatched"},
	} {
		if m, r := metricLabels(tt.method, tt.route); m != tt.wantMethod || r != tt.wantRoute {
			t.Errorf("metricLabels(%s, %s) = %s %s, want %s %s", tt.method, tt.route, m, r, tt.wantMethod, tt.wantRoute)
		}
	}
}
