package main

import (
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/server"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/workflows"
)

// runs follows the API's cursor past a page to --limit, newest first,
// and filters by time; the list reads the records only, so the API runs
// here without Temporal.
func TestRunsPagesAndFilters(t *testing.T) {
	t.Setenv("COLUMNS", "") // the width of the output is not a terminal's
	st, err := store.Open(filepath.Join(t.TempDir(), "runs.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	token, _, err := st.CreateToken("vic", []string{"viewer"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i := range 120 {
		at := start.Add(time.Duration(i) * time.Minute)
		r := &store.Run{ID: fmt.Sprintf("p-%03d", i), Runbook: "p", Version: 1 + i%2, Status: workflows.RunSucceeded, Trigger: "api",
			TriggeredBy: "ann", StartedBy: "ann", CreatedAt: at}
		if i == 119 {
			r.Status, r.Error = workflows.RunFailed, "exit code 3:\nHINT: retry the transaction, which this error message explains at a length no column holds"
		}
		if _, err := st.CreateRun(r, map[string]any{}); err != nil {
			t.Fatal(err)
		}
		if r.Status != workflows.RunFailed {
			end := at.Add(90 * time.Second)
			if err := st.FinishRun(r.ID, r.Status, "", "", nil, end); err != nil {
				t.Fatal(err)
			}
		} else if err := st.FinishRun(r.ID, r.Status, "ShellExitError", r.Error, nil, at.Add(2*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	api := &server.API{Store: st}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	list := func(args ...string) []string {
		t.Helper()
		code, out, errOut := runCLI(t, append(append([]string{"runs"}, args...), "--addr", srv.URL, "--token", token)...)
		if code != 0 {
			t.Fatalf("runs %v: %d %s", args, code, errOut)
		}
		return strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	}
	rows := list("--limit", "110")
	if len(rows) != 111 || !strings.HasPrefix(rows[1], "p-119 ") || !strings.HasPrefix(rows[110], "p-010 ") {
		t.Errorf("--limit 110: %d rows, first %q, last %q", len(rows)-1, rows[1], rows[len(rows)-1])
	}
	want := []string{
		"RUN    RUNBOOK  STATUS     VERSION  TRIGGER  BY   STARTED               DURATION  FAILED STEP  ERROR",
		"p-119  p        failed     v2       api      ann  2026-12-01 01:59:00Z  2s        -            exit code 3: HINT: retry the transaction, which this error …",
		"p-118  p        succeeded  v1       api      ann  2026-12-01 01:58:00Z  1m30s     -            -",
	}
	if got := list("--limit", "2"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("--limit 2:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	rows = list("--since", "2026-12-01T00:10:00Z", "--until", "2026-12-01T00:20:00Z", "--limit", "500")
	if len(rows) != 11 || !strings.HasPrefix(rows[1], "p-019 ") || !strings.HasPrefix(rows[10], "p-010 ") {
		t.Errorf("since/until: %q", rows)
	}
	t.Setenv("COLUMNS", "140")
	// The error fills the line to 140 columns.
	if got := list("--limit", "1"); got[1] != "p-119  p        failed  v2       api      ann  2026-12-01 01:59:00Z  2s        -            exit code 3: HINT: retry the transaction, which…" {
		t.Errorf("COLUMNS=140:\n%s", strings.Join(got, "\n"))
	}
	t.Setenv("COLUMNS", "")
	if rows := list("--status", "failed"); len(rows) != 2 || !regexp.MustCompile(`^p-119 +p +failed `).MatchString(rows[1]) {
		t.Errorf("--status failed: %q", rows)
	}
}
