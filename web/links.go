package web

import (
	"net/url"
	"strconv"
	"strings"
)

// ApprovalLink is the address of an approval's page under base (the
// console's public URL): run is the recorded run (for an approval inside
// a sub-runbook, its root run), item the forEach item or nil.
func ApprovalLink(base, run, step string, item *int) string {
	link := strings.TrimRight(base, "/") + "/runs/" + url.PathEscape(run) + "/approvals/" + url.PathEscape(step)
	if item != nil {
		link += "?item=" + strconv.Itoa(*item)
	}
	return link
}

// RunLink is the address of a run's page under base.
func RunLink(base, run string) string {
	return strings.TrimRight(base, "/") + "/runs/" + url.PathEscape(run)
}
