package server

import (
	"reflect"
	"testing"

	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/workflows"
)

// A change board of one SRE and one DBA, through the API: two SREs do
// not complete it, the list says what each group still needs, and a DBA's
// vote does; a person in both groups counts once.
func TestApprovalGroupQuorumThroughTheAPI(t *testing.T) {
	c := temporalStack(t)
	eachStore(t, func(t *testing.T, st *store.Store) {
		a := newTrustAPI(t, c, st)
		token := func(user string, groups ...string) string {
			s, _, err := st.CreateToken(user, []string{"approver", "viewer"}, groups)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		sre1, sre2, dba, both := token("sue", "sre"), token("sid", "sre"), token("dan", "dba"), token("max", "sre", "dba")
		a.register(subRunbookDoc("board-change", `    - id: board
      approval: {approvers: [{group: sre, min: 1}, {group: dba, min: 1}]}
    - {id: apply, action: log, with: {message: applied}}
`), 201)
		start := func() string {
			var run runView
			if got := a.call("POST", "/api/v1/runbooks/board-change/runs", a.ann, map[string]any{}, &run); got != 201 {
				t.Fatalf("start: %d", got)
			}
			a.waiting(run.ID)
			return run.ID
		}
		vote := func(run, who string) {
			t.Helper()
			if got := a.call("POST", "/api/v1/runs/"+run+"/approvals/board", who, map[string]any{"decision": "approve"}, nil); got != 200 {
				t.Fatalf("vote: %d", got)
			}
		}
		status := func(run string) runView {
			var v runView
			a.call("GET", "/api/v1/runs/"+run, a.viewer, nil, &v)
			return v
		}

		run := start()
		vote(run, sre1)
		vote(run, sre2)
		var list struct{ Approvals []pendingApproval }
		a.call("GET", "/api/v1/approvals", a.viewer, nil, &list)
		want := []workflows.QuorumState{{Group: "sre", Min: 1, Voters: []string{"sid"}}, {Group: "dba", Min: 1, Voters: []string{}}}
		if len(list.Approvals) != 1 || !reflect.DeepEqual(list.Approvals[0].Quorum, want) && !reflect.DeepEqual(list.Approvals[0].Quorum, []workflows.QuorumState{{Group: "sre", Min: 1, Voters: []string{"sue"}}, {Group: "dba", Min: 1, Voters: []string{}}}) {
			t.Errorf("two SREs: listed %+v", list.Approvals)
		}
		if v := status(run); v.Status != workflows.RunRunning || v.Steps[0].Status != workflows.StatusWaitingApproval || v.Steps[0].MinApprovals != 2 {
			t.Errorf("two SREs completed it: %+v", v.Steps[0])
		}
		vote(run, dba)
		waitFor(t, func() bool { return status(run).Status == workflows.RunSucceeded })

		// One person in both groups fills one place only; an SRE then
		// lets them fill the DBA's.
		run = start()
		vote(run, both)
		if v := status(run); v.Steps[0].Status != workflows.StatusWaitingApproval {
			t.Errorf("one person completed both groups: %+v", v.Steps[0])
		}
		vote(run, sre1)
		waitFor(t, func() bool { return status(run).Status == workflows.RunSucceeded })
		if q := status(run).Steps[0].Quorum; !reflect.DeepEqual(q, []workflows.QuorumState{{Group: "sre", Min: 1, Voters: []string{"sue"}}, {Group: "dba", Min: 1, Voters: []string{"max"}}}) {
			t.Errorf("final quorum: %+v", q)
		}
	})
}
