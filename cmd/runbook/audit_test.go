package main

import (
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/server"
	"github.com/opsrunbook/runbook/store"
)

// runbook audit prints the trail as a table with readable times, filters
// it, prints the API's answer with --json, and refuses what it cannot take.
func TestAuditCommand(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "api.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := httptest.NewServer((&server.API{Store: st}).Handler())
	defer srv.Close()
	viewer, _, _ := st.CreateToken("vic", []string{"viewer"}, nil)
	t.Setenv("RUNBOOK_ADDR", srv.URL)
	t.Setenv("RUNBOOK_TOKEN", viewer)
	for _, r := range []store.AuditRecord{
		{Actor: "ann", Action: store.ActionRunStart, Target: "deploy-01", Run: "deploy-01", Runbook: "deploy", Detail: store.RunStartDetail{Version: 2, Trigger: "api", TriggeredBy: "ann"}},
		{Actor: "ann", Action: store.ActionApprovalVote, Target: "deploy-01/board", Run: "deploy-01", Runbook: "deploy", Refused: "ann started this run and may not approve it",
			Detail: store.VoteDetail{Step: "board", Decision: "approve", Code: "SelfApproval", Status: 403}},
		{Actor: "bob", Action: store.ActionRunCancel, Target: "deploy-01", Run: "deploy-01", Runbook: "deploy", Detail: store.CancelDetail{Reason: "wrong\nhost"}},
	} {
		if err := st.Append(r); err != nil {
			t.Fatal(err)
		}
	}

	code, out, errOut := runCLI(t, "audit")
	want := regexp.MustCompile(`^TIME \(UTC\)\s+ACTOR\s+ACTION\s+TARGET\s+OUTCOME\s+DETAIL
\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+bob\s+run\.cancel\s+deploy-01\s+ok\s+reason="wrong\\nhost"
\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+ann\s+approval\.vote\s+deploy-01/board\s+refused\s+ann started this run and may not approve it
\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+ann\s+run\.start\s+deploy-01\s+ok\s+trigger=api triggeredBy=ann version=2
$`)
	if code != 0 || !want.MatchString(out) || errOut != "" {
		t.Errorf("audit: exit %d\n%s%s", code, out, errOut)
	}

	code, out, _ = runCLI(t, "audit", "--actor", "ann", "--outcome", "refused", "--since", "1h", "--json")
	var page struct {
		Entries []map[string]any `json:"entries"`
		Next    string           `json:"next"`
	}
	if err := json.Unmarshal([]byte(out), &page); code != 0 || err != nil || len(page.Entries) != 1 || page.Entries[0]["reason"] != "ann started this run and may not approve it" ||
		page.Entries[0]["run"] != "deploy-01" || page.Entries[0]["detail"].(map[string]any)["code"] != "SelfApproval" {
		t.Errorf("--json: exit %d %v\n%s", code, err, out)
	}
	if code, out, _ := runCLI(t, "audit", "--until", "1h"); code != 0 || strings.Count(out, "\n") != 1 {
		t.Errorf("--until 1h ago: exit %d\n%s", code, out)
	}
	if code, out, errOut := runCLI(t, "audit", "--limit", "1"); code != 0 || strings.Count(out, "\n") != 2 ||
		errOut != "more entries than --limit 1: narrow with --since/--until or raise --limit\n" {
		t.Errorf("--limit 1: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, "audit", "--action", "run.delete"); code != 1 ||
		!strings.HasPrefix(errOut, "runbook audit: invalid audit query (HTTP 400)\n  action: unknown action \"run.delete\" (actions: runbook.register,") {
		t.Errorf("an unknown action: exit %d %s", code, errOut)
	}

	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{[]string{"audit", "deploy-01"}, `runbook audit: unexpected argument "deploy-01"`},
		{[]string{"audit", "--run", "deploy-01", "extra"}, `runbook audit: unexpected argument "extra"`},
		{[]string{"audit", "--since", "yesterday"}, `runbook audit: --since: "yesterday" is neither an RFC 3339 time (2026-01-02T15:04:05Z) nor a duration (24h, 7d)`},
		{[]string{"audit", "--limit", "5000"}, `runbook audit: --limit must be from 1 to 1000, not 5000`},
		{[]string{"audit", "--reason", "x"}, `runbook audit: flag provided but not defined: -reason`},
	} {
		code, out, errOut := runCLI(t, tt.args...)
		if code != 2 || out != "" || !strings.Contains(errOut, tt.msg+"\n") || !strings.Contains(errOut, "usage: runbook audit [--run ID]") {
			t.Errorf("%v: exit %d\n%s%s", tt.args, code, out, errOut)
		}
	}
}

func TestAuditTimes(t *testing.T) {
	now := time.Date(2026, 12, 2, 4, 0, 0, 0, time.UTC)
	for in, want := range map[string]string{"24h": "2026-12-01T04:00:00Z", "7d": "2026-11-25T04:00:00Z", "2026-01-02T15:04:05+01:00": "2026-01-02T14:04:05Z"} {
		got, err := auditTime(in, now)
		if err != nil || got.UTC().Format(time.RFC3339) != want {
			t.Errorf("%s: %v %v, want %s", in, got, err, want)
		}
	}
	if _, err := auditTime("-1h", now); err == nil {
		t.Error("a negative duration was taken")
	}
}
