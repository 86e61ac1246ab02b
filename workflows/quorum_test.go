package workflows_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/workflows"
)

// A quorum of one SRE and one DBA: two SREs do not complete it, an SRE
// and a DBA do, and a person in both groups counts once, filling the
// group they are needed in.
func TestApprovalGroupQuorum(t *testing.T) {
	const board = `  steps:
    - id: gate
      approval:
        approvers: [{group: sre, min: 1}, {group: dba, min: 1}]
        timeout: 1h
    - {id: after, action: log, with: {message: go}}
`
	type vote struct {
		user   string
		groups []string
	}
	for _, tt := range []struct {
		name   string
		votes  []vote
		want   string // error type, "" for approved
		quorum []workflows.QuorumState
	}{
		{"two SREs", []vote{{"sam", []string{"sre"}}, {"bob", []string{"sre"}}}, workflows.ErrApprovalTimeout,
			[]workflows.QuorumState{{Group: "sre", Min: 1, Voters: []string{"sam"}}, {Group: "dba", Min: 1, Voters: []string{}}}},
		{"an SRE and a DBA", []vote{{"sam", []string{"sre"}}, {"dora", []string{"dba"}}}, "",
			[]workflows.QuorumState{{Group: "sre", Min: 1, Voters: []string{"sam"}}, {Group: "dba", Min: 1, Voters: []string{"dora"}}}},
		{"one person in both", []vote{{"max", []string{"sre", "dba"}}}, workflows.ErrApprovalTimeout,
			[]workflows.QuorumState{{Group: "sre", Min: 1, Voters: []string{"max"}}, {Group: "dba", Min: 1, Voters: []string{}}}},
		{"the one in both moves to where they are needed", []vote{{"max", []string{"sre", "dba"}}, {"sam", []string{"sre"}}}, "",
			[]workflows.QuorumState{{Group: "sre", Min: 1, Voters: []string{"sam"}}, {Group: "dba", Min: 1, Voters: []string{"max"}}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			answers := make([]error, len(tt.votes))
			for i, v := range tt.votes {
				h.vote(time.Duration(i+1)*time.Minute, workflows.VoteRequest{Step: "gate", Decision: plan.VoteApprove, User: v.user, Groups: v.groups}, &answers[i])
			}
			var waiting *workflows.Status
			h.at(30*time.Second, func(s *workflows.Status) { waiting = s })
			h.run(head+board, nil)
			if _, et := h.result(); et != tt.want {
				t.Fatalf("result %q, want %q (votes %v)", et, tt.want, answers)
			}
			if q := stepOf(t, waiting, "gate").Quorum; !reflect.DeepEqual(q, []workflows.QuorumState{{Group: "sre", Min: 1, Voters: []string{}}, {Group: "dba", Min: 1, Voters: []string{}}}) {
				t.Errorf("quorum before any vote: %+v", q)
			}
			if q := stepOf(t, h.status(), "gate").Quorum; !reflect.DeepEqual(q, tt.quorum) {
				t.Errorf("quorum = %+v, want %+v", q, tt.quorum)
			}
		})
	}
}
