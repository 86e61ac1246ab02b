package workflows

import (
	"net/url"
	"strconv"
	"strings"
)

// announceLinkVersion: approval and decision notifications carry the
// path of their page in the web console (plan.ActionInput.Link).
const announceLinkVersion = "announce-link"

// rootRun is the recorded run a workflow id belongs to: a sub-runbook
// run's id is <run>.<step>[.<item>]..., and a run's own id has no dot.
func rootRun(id string) string {
	root, _, _ := strings.Cut(id, ".")
	return root
}

// ApprovalPath is the web console's page of approval step of the run
// that workflow id (a run, or a sub-runbook run of it) belongs to.
func ApprovalPath(id, step string, item *int) string {
	p := "/runs/" + url.PathEscape(rootRun(id)) + "/approvals/" + url.PathEscape(step)
	if item != nil {
		p += "?item=" + strconv.Itoa(*item)
	}
	return p
}

// RunPath is the web console's page of the run workflow id belongs to.
func RunPath(id string) string { return "/runs/" + url.PathEscape(rootRun(id)) }
