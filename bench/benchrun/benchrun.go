// Package benchrun holds what the bench programs share whatever server they
// measure: the runbook they run, the soak that reports every stall, the API
// calls that register and trigger runs, and percentiles.
package benchrun

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/runbooks"
)

// Plan compiles a runbook of n log steps with fixed messages, the
// benchmarks' trivial step.
func Plan(n int) (*plan.Plan, error) {
	var b strings.Builder
	b.WriteString("apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: bench}\nspec:\n  steps:\n")
	for i := range n {
		fmt.Fprintf(&b, "    - {id: s%d, action: log, with: {message: \"step %d\"}}\n", i, i)
	}
	p, _, err := runbooks.Build("bench.yaml", []byte(b.String()), runbooks.Options{Actions: activities.Catalog()})
	return p, err
}

// Runbook is the YAML of runbook name: an int param n and steps steps of
// action, log (a local action when the API starts the run) or shell
// (`true`, a regular activity).
func Runbook(name, action string, steps int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: %s}\nspec:\n  params: [{name: n, type: int, default: 1}]\n  steps:\n", name)
	for i := range steps {
		if action == "shell" {
			fmt.Fprintf(&b, "    - {id: s%d, action: shell, with: {command: [\"true\"]}}\n", i)
			continue
		}
		fmt.Fprintf(&b, "    - {id: s%d, action: log, with: {message: \"step %d of run ${{ run.id }}\"}}\n", i, i)
	}
	return b.String()
}

// Pct is the p-th percentile of d, which is sorted.
func Pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(float64(len(d))*p/100+0.999999) - 1
	return d[max(0, min(len(d)-1, i))]
}

// Ms is d in milliseconds.
func Ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Sorted returns d sorted, leaving d alone.
func Sorted(d []time.Duration) []time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s
}
