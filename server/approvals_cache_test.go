package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/runbooks"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/workflows"
)

// writeList writes the bytes c.JSON would: the same escaping, field order
// and trailing newline, an empty list as [].
func TestWriteListAsJSON(t *testing.T) {
	one := 1
	for _, list := range [][]pendingApproval{
		{},
		{{Kind: KindApproval, Run: "r-1", Runbook: "rb", Step: "gate", Message: `<go> & "now" é`, Approvers: []string{"group:a&b"}, Needed: 2}},
		{{Kind: KindDecision, Run: "r-2.sub", Parent: "r-2", Runbook: "rb", Step: "s", Item: &one, Approvers: []string{}, Deciders: []string{"ann"}, Mine: true, Error: "boom\n", ErrorType: "Shell"},
			{Kind: KindApproval, Run: "r-3", Runbook: "rb", Step: "gate", Approvers: []string{"bob"}, Quorum: []workflows.QuorumState{{Group: "ops", Min: 1}}}},
	} {
		e := echo.New()
		want := httptest.NewRecorder()
		if err := e.NewContext(httptest.NewRequest("GET", "/", nil), want).JSON(200, map[string]any{"approvals": list}); err != nil {
			t.Fatal(err)
		}
		parts := make([][]byte, len(list))
		for i, pa := range list {
			parts[i] = mustJSON(t, pa)
		}
		got := httptest.NewRecorder()
		if err := writeList(e.NewContext(httptest.NewRequest("GET", "/", nil), got), "approvals", parts); err != nil {
			t.Fatal(err)
		}
		if got.Body.String() != want.Body.String() || got.Header().Get("Content-Type") != want.Header().Get("Content-Type") || got.Code != want.Code {
			t.Errorf("writeList:\n%d %s %q\nc.JSON:\n%d %s %q", got.Code, got.Header().Get("Content-Type"), got.Body, want.Code, want.Header().Get("Content-Type"), want.Body)
		}
	}
}

// A read of the records takes the entries whose rows did not change from
// the read before (neither decoded nor encoded again) and decodes the
// others: a vote recorded on one run shows in its entry alone.
func TestRecordsReadReusesUnchangedEntries(t *testing.T) {
	eachStore(t, func(t *testing.T, st *store.Store) {
		src := "apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: gated}\nspec:\n  steps:\n" +
			"    - {id: gate, approval: {message: \"go?\", approvers: [\"group:board\"], minApprovals: 2}}\n"
		p, _, err := runbooks.Build("gated.yaml", []byte(src), runbooks.Options{Actions: activities.Catalog()})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.SaveRunbook(src, p, "root"); err != nil {
			t.Fatal(err)
		}
		waiting := func(run string, voters ...string) {
			s := workflows.StepState{ID: "gate", Kind: "approval", Status: workflows.StatusWaitingApproval, Message: "go?",
				Approvers: []string{"group:board"}, MinApprovals: 2}
			for _, v := range voters {
				s.Votes = append(s.Votes, workflows.Vote{User: v, Decision: "approve"})
			}
			if err := st.RecordTimeline(run, []store.StepEvent{stepRecord(run, s)}, nil); err != nil {
				t.Fatal(err)
			}
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		for i := range 3 {
			id := fmt.Sprintf("gated-%d", i)
			if _, err := st.CreateRun(&store.Run{ID: id, Runbook: "gated", Version: 1, Status: "running", Trigger: "api", TriggeredBy: "root",
				StartedBy: "root", CreatedAt: now.Add(time.Duration(i) * time.Second)}, nil); err != nil {
				t.Fatal(err)
			}
			waiting(id)
		}
		a := &API{Store: st}
		first, err := a.readRecords(&a.approvals)
		if err != nil {
			t.Fatal(err)
		}
		if len(first.entries) != 3 || first.entries[0].r.ID != "gated-2" {
			t.Fatalf("first read: %d entries, newest %v", len(first.entries), first.entries)
		}
		waiting("gated-1", "bob")
		second, err := a.readRecords(&a.approvals)
		if err != nil {
			t.Fatal(err)
		}
		if len(second.entries) != 3 {
			t.Fatalf("second read: %d entries", len(second.entries))
		}
		for i, e := range second.entries {
			if reused := e == first.entries[i]; reused != (e.r.ID != "gated-1") {
				t.Errorf("%s: reused %v", e.r.ID, reused)
			}
		}
		if got := second.entries[1]; got.r.ID != "gated-1" || !bytes.Contains(got.enc[0], []byte(`"votes":1`)) || !bytes.Contains(got.enc[1], []byte(`"mine":true`)) {
			t.Errorf("gated-1 after the vote: %s / %s", got.enc[0], got.enc[1])
		}
		if got := second.entries[0]; !bytes.Contains(got.enc[0], []byte(`"votes":0`)) || !bytes.Contains(got.enc[0], []byte(`"mine":false`)) {
			t.Errorf("gated-2: %s", got.enc[0])
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
