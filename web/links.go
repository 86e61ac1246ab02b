package web

import (
	"strings"

	"github.com/opsrunbook/runbook/workflows"
)

// ApprovalLink is the address of an approval's page under base (the
// console's public URL): run is the recorded run (for an approval inside
// a sub-runbook, its root run or the sub-runbook run), item the forEach
// item or nil. Approval notifications carry the same path.
func ApprovalLink(base, run, step string, item *int) string {
	return strings.TrimRight(base, "/") + workflows.ApprovalPath(run, step, item)
}

// RunLink is the address of a run's page under base.
func RunLink(base, run string) string {
	return strings.TrimRight(base, "/") + workflows.RunPath(run)
}
