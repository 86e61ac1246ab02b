package workflows_test

import (
	"slices"

	"go.temporal.io/sdk/temporal"

	"testing"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/workflows"
)

// A failure counts against maxErrors when the item fails, not when its
// onError finishes: once the budget is spent no item starts, even while
// onError still runs. a fails at 1s (onError until 6s); c takes a's slot
// at 6s and fails at 7s, the second failure; b ends at 8s, and d must not
// take its slot.
func TestForEachCountsAFailureWhenTheItemFails(t *testing.T) {
	h := newHarness(t, map[string]action{"shell": func(in plan.ActionInput) (map[string]any, error) {
		if host := in.Inputs["command"].([]any)[1]; host == "a" || host == "c" {
			return nil, temporal.NewNonRetryableApplicationError("down", plan.ErrShellExit, nil)
		}
		return map[string]any{"exitCode": 0}, nil
	}})
	h.run(head+`  steps:
    - id: roll
      forEach: "['a', 'b', 'c', 'd', 'e', 'f']"
      as: host
      maxConcurrency: 2
      maxErrors: 1
      steps:
        - {id: pause, sleep: "${{ host == 'b' ? '8s' : '1s' }}"}
        - {id: patch, action: shell, with: {command: [patch, "${{ host }}"]}}
      onError:
        - {id: cool, sleep: 5s}
`, nil)
	if _, et := h.result(); et != workflows.ErrForEachBudget {
		t.Fatalf("error type = %q", et)
	}
	got := h.called("shell")
	slices.Sort(got)
	if !slices.Equal(got, []string{"patch", "patch", "patch"}) {
		t.Errorf("patched %v: only a, b and c may start", got)
	}
	s := h.status()
	var started []int
	for _, st := range s.Steps {
		if st.ID == "pause" && st.Item != nil {
			started = append(started, *st.Item)
		}
	}
	if !slices.Equal(started, []int{0, 1, 2}) {
		t.Errorf("items started: %v, want [0 1 2]", started)
	}
	if s.Error != "2 of 6 items failed, more than maxErrors (1); first: patch: down" {
		t.Errorf("error = %q", s.Error)
	}
}
