package server

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/worker"
	"github.com/opsrunbook/runbook/workflows"
)

// TestApprovalsListFromTheRecords: GET /api/v1/approvals answers from the
// step records once the syncer wrote them (a run Temporal ended since is
// listed until the next pass says so), runs not recorded yet are asked
// from Temporal, and a vote through the API shows in the list as soon as
// it is answered: counted, then the approval gone once decided.
func TestApprovalsListFromTheRecords(t *testing.T) {
	c := temporalStack(t)
	st, err := store.Open(filepath.Join(t.TempDir(), "records.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	api := &API{Store: st, Temporal: c, TaskQueue: worker.TaskQueue, Catalog: activities.Catalog(), Scheduler: &Scheduler{Client: c, TaskQueue: worker.TaskQueue}}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	cl := apiClient{t, srv.URL}
	tok := func(user string, roles ...string) string {
		s, _, err := st.CreateToken(user, roles, []string{"board"})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ann, bob, carl := tok("ann", "admin"), tok("bob", "approver", "viewer"), tok("carl", "approver", "viewer")
	src := "apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: twice}\nspec:\n  steps:\n" +
		"    - {id: gate, approval: {message: \"go?\", approvers: [\"group:board\"], minApprovals: 2}}\n" +
		"    - {id: done, action: log, with: {message: ok}}\n"
	if got := cl.call("POST", "/api/v1/runbooks", ann, src, nil); got != 201 {
		t.Fatalf("register: %d", got)
	}
	var runs []string
	for range 3 {
		var run struct{ ID string }
		if got := cl.call("POST", "/api/v1/runbooks/twice/runs", ann, "{}", &run); got != 201 {
			t.Fatalf("start: %d", got)
		}
		runs = append(runs, run.ID)
		waitFor(t, func() bool {
			var v runView
			cl.call("GET", "/api/v1/runs/"+run.ID, ann, nil, &v)
			return len(v.Steps) == 2 && v.Steps[0].Status == workflows.StatusWaitingApproval
		})
	}
	newest := slices.Clone(runs)
	slices.Reverse(newest)
	// list is "run:votes:mine" of each entry, as who sees it.
	list := func(who string, mine bool) []string {
		t.Helper()
		path := "/api/v1/approvals"
		if mine {
			path += "?mine=true"
		}
		var out struct{ Approvals []pendingApproval }
		if got := cl.call("GET", path, who, nil, &out); got != 200 {
			t.Fatalf("list: %d", got)
		}
		var s []string
		for _, p := range out.Approvals {
			if p.Kind != KindApproval || p.Runbook != "twice" || p.Step != "gate" || p.Item != nil || p.Message != "go?" ||
				!slices.Equal(p.Approvers, []string{"group:board"}) || p.Needed != 2 || p.Parent != "" {
				t.Errorf("entry %+v", p)
			}
			s = append(s, fmt.Sprintf("%s:%d:%v", p.Run, p.Votes, p.Mine))
		}
		return s
	}
	want := func(what string, got []string, want ...string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", what, got, want)
		}
	}
	e := func(i, votes int, mine bool) string { return fmt.Sprintf("%s:%d:%v", runs[i], votes, mine) }

	// Not recorded yet: asked from Temporal.
	want("unrecorded, bob's", list(bob, true), e(2, 0, true), e(1, 0, true), e(0, 0, true))
	ctx := context.Background()
	api.SyncOnce(ctx)
	if n, err := st.CountWaiting("twice"); err != nil || n != 3 {
		t.Fatalf("the records hold %d waiting entries (%v), want 3", n, err)
	}
	want("recorded, bob's", list(bob, true), e(2, 0, true), e(1, 0, true), e(0, 0, true))
	want("the starter's", list(ann, true))
	want("the starter's, all", list(ann, false), e(2, 0, false), e(1, 0, false), e(0, 0, false))

	// A vote shows at once, with no pass of the syncer.
	vote := func(who, run string) {
		t.Helper()
		if got := cl.call("POST", "/api/v1/runs/"+run+"/approvals/gate", who, map[string]any{"decision": "approve"}, nil); got != 200 {
			t.Fatalf("vote: %d", got)
		}
	}
	vote(bob, runs[0])
	want("after bob's vote, bob's", list(bob, true), e(2, 0, true), e(1, 0, true))
	want("after bob's vote, carl's", list(carl, true), e(2, 0, true), e(1, 0, true), e(0, 1, true))
	vote(carl, runs[0])
	want("decided, carl's", list(carl, true), e(2, 0, true), e(1, 0, true))

	// Ended in Temporal behind the records: listed until a pass records it.
	if err := c.TerminateWorkflow(ctx, runs[1], "", "gone"); err != nil {
		t.Fatal(err)
	}
	want("terminated, not synced", list(carl, false), e(2, 0, true), e(1, 0, true))
	api.SyncOnce(ctx)
	want("terminated, synced", list(carl, false), e(2, 0, true))
}
