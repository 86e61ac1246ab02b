package store

import (
	"fmt"
	"testing"
	"time"
)

// TestWaitingStepsOfEveryRunningRun: the approvals list's query reads the
// waiting entries of every running run, past the 500 a page of runs
// holds, newest run first and each run's entries in timeline order; the
// entries of runs that ended, and entries that wait for nobody, are left
// out; runs without step records are the unrecorded ones.
func TestWaitingStepsOfEveryRunningRun(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		mk := func(i int, id, status string, steps ...StepEvent) {
			t.Helper()
			r := &Run{ID: id, Runbook: "gate", Version: 1, Status: status, Trigger: "api", TriggeredBy: "ann", StartedBy: "ann",
				CreatedAt: base.Add(time.Duration(i) * time.Second)}
			if _, err := s.CreateRun(r, nil); err != nil {
				t.Fatal(err)
			}
			for j := range steps {
				steps[j].RunID = id
			}
			if len(steps) > 0 {
				if err := s.RecordTimeline(id, steps, nil); err != nil {
					t.Fatal(err)
				}
			}
		}
		detail := []byte(`{"id":"","kind":"","status":"","message":"go?","approvers":["group:board"],"minApprovals":1}`)
		const parked = 501
		for i := range parked {
			mk(i, fmt.Sprintf("gate-%04d", i), StatusRunning,
				StepEvent{StepID: "gate", Item: -1, Kind: "approval", Status: StepWaitingApproval, Detail: detail},
				StepEvent{StepID: "next", Item: -1, Kind: "action", Status: "pending"})
		}
		// A run that ended while waiting, one still at an action, one not
		// recorded yet.
		mk(parked, "ended", "failed", StepEvent{StepID: "gate", Item: -1, Kind: "approval", Status: StepWaitingApproval})
		mk(parked+1, "busy", StatusRunning, StepEvent{StepID: "work", Item: -1, Kind: "action", Status: StepRunning})
		mk(parked+2, "fresh", StatusRunning)
		// A run waiting for a decision, and one inside a sub-runbook (two
		// items of a loop and an approval after them).
		mk(parked+3, "decide", StatusWaitingDecision, StepEvent{StepID: "check", Item: -1, Kind: "action", Status: StepWaitingDecision, Error: "exit 1"})
		mk(parked+4, "nested", StatusRunning,
			StepEvent{StepID: "sub", Item: 1, Loop: "each", Kind: StepKindRunbook, Status: StepRunning},
			StepEvent{StepID: "sub", Item: 0, Loop: "each", Kind: StepKindRunbook, Status: "succeeded"},
			StepEvent{StepID: "sub", Item: 2, Loop: "each", Kind: StepKindRunbook, Status: StepRunning},
			StepEvent{StepID: "late", Item: -1, Kind: "approval", Status: StepWaitingApproval})

		got, err := s.WaitingSteps()
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		want = append(want, "nested/sub[1]", "nested/sub[2]", "nested/late[-1]", "decide/check[-1]")
		for i := parked - 1; i >= 0; i-- {
			want = append(want, fmt.Sprintf("gate-%04d/gate[-1]", i))
		}
		if len(got) != len(want) {
			t.Fatalf("%d entries, want %d", len(got), len(want))
		}
		for i, w := range got {
			if k := fmt.Sprintf("%s/%s[%d]", w.RunID, w.StepID, w.Item); k != want[i] {
				t.Fatalf("entry %d is %s, want %s", i, k, want[i])
			}
		}
		first := got[len(got)-1]
		if first.Runbook != "gate" || first.Version != 1 || first.StartedBy != "ann" || !first.CreatedAt.Equal(base) ||
			first.Kind != "approval" || string(first.Detail) != string(detail) {
			t.Errorf("the oldest entry: %+v", first)
		}
		if d := got[3]; d.Status != StepWaitingDecision || d.Error != "exit 1" || d.Run().Status != StatusRunning {
			t.Errorf("the decision: %+v", d)
		}
		if n, err := s.CountWaiting("gate"); err != nil || n != parked+1 {
			t.Errorf("CountWaiting: %d %v, want %d", n, err, parked+1)
		}

		fresh, more, err := s.UnrecordedRunning(10)
		if err != nil || more || len(fresh) != 1 || fresh[0].ID != "fresh" {
			t.Errorf("unrecorded: %v %v %v", ids(fresh), more, err)
		}
		mk(parked+5, "fresher", StatusWaitingDecision)
		if fresh, more, err = s.UnrecordedRunning(1); err != nil || !more || len(fresh) != 1 || fresh[0].ID != "fresher" {
			t.Errorf("unrecorded, one of two: %v %v %v", ids(fresh), more, err)
		}
	})
}
