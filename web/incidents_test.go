package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/web"
)

// The incident pages list, show and act on incidents through the API as
// the signed-in user: every alert- or user-written text is escaped, forms
// carry the session's CSRF token, a viewer gets no forms, and the
// timeline exports as Markdown.
func TestIncidentPages(t *testing.T) {
	c := newConsole(t, web.Options{})
	inc, _, err := c.st.ReportIncident(&store.Incident{Source: store.SourceAlertmanager, Key: "g1", Title: "<script>window.__xss = 3</script> down",
		Severity: "critical", Service: "<b>api</b>"}, "alertmanager", "firing: <img src=x>")
	if err != nil {
		t.Fatal(err)
	}
	op := c.browser()
	csrf := c.signIn(op, c.token("ann", "operator", "viewer"))
	resp, page := c.do(op, "GET", "/incidents", nil)
	if resp.StatusCode != 200 || !strings.Contains(page, `<a href="/incidents/1">#1</a></td><td>&lt;script&gt;window.__xss = 3&lt;/script&gt; down</td>`) ||
		!strings.Contains(page, "<td>&lt;b&gt;api&lt;/b&gt;</td>") {
		t.Errorf("incidents page: %d\n%s", resp.StatusCode, page)
	}
	for _, post := range []struct {
		path string
		form url.Values
		done string
	}{
		{"/incidents/1/notes", url.Values{"csrf": {csrf}, "text": {"<script>window.__xss = 4</script> restarted"}}, "note"},
		{"/incidents/1/ack", url.Values{"csrf": {csrf}}, "ack"},
		{"/incidents/1/resolve", url.Values{"csrf": {csrf}, "reason": {"fixed"}}, "resolve"},
	} {
		resp, page := c.do(op, "POST", post.path, post.form)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/incidents/1?done="+post.done {
			t.Errorf("POST %s: %d %s %s", post.path, resp.StatusCode, resp.Header.Get("Location"), page)
		}
	}
	if resp, _ := c.do(op, "POST", "/incidents/1/resolve", url.Values{"csrf": {"forged"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a post without the session's token: %d", resp.StatusCode)
	}
	if resp, page := c.do(op, "POST", "/incidents/1/resolve", url.Values{"csrf": {csrf}}); resp.StatusCode != 409 || !strings.Contains(page, "the incident is already resolved") {
		t.Errorf("resolve again: %d %s", resp.StatusCode, page)
	}
	resp, page = c.do(op, "GET", "/incidents/1?done=resolve", nil)
	for _, want := range []string{`<span id="title">&lt;script&gt;window.__xss = 3&lt;/script&gt; down</span>`, `id="status">resolved</span>`,
		"&lt;script&gt;window.__xss = 4&lt;/script&gt; restarted", "firing: &lt;img src=x&gt;", `<button type="submit" id="reopen">Reopen</button>`,
		`<input type="hidden" name="csrf" value="` + csrf + `">`, `href="/incidents/1/timeline.md"`} {
		if !strings.Contains(page, want) {
			t.Errorf("incident page lacks %s", want)
		}
	}
	if resp.Header.Get("Content-Security-Policy") != web.CSP || strings.Contains(page, "<script>window") || strings.Contains(page, "<img") ||
		regexp.MustCompile(` on[a-z]+=| style=`).MatchString(page) {
		t.Errorf("incident page: CSP %q, or unescaped text:\n%s", resp.Header.Get("Content-Security-Policy"), page)
	}
	resp, md := c.do(op, "GET", "/incidents/1/timeline.md", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/markdown") ||
		resp.Header.Get("Content-Disposition") != `attachment; filename="incident-1.md"` || !strings.HasPrefix(md, "# Incident 1: &lt;script&gt;") {
		t.Errorf("export: %d %v\n%s", resp.StatusCode, resp.Header, md)
	}
	if resp, _ := c.do(op, "GET", "/incidents/x/timeline.md", nil); resp.StatusCode != 404 {
		t.Errorf("export of no incident: %d", resp.StatusCode)
	}
	if resp, page := c.do(op, "GET", "/incidents/99", nil); resp.StatusCode != 404 || !strings.Contains(page, "no incident 99") {
		t.Errorf("no incident: %d %s", resp.StatusCode, page)
	}

	viewer := c.browser()
	vcsrf := c.signIn(viewer, c.token("vic", "viewer"))
	_, page = c.do(viewer, "GET", "/incidents/1", nil)
	if strings.Contains(page, `method="post" action="/incidents/`) {
		t.Errorf("a viewer is offered forms:\n%s", page)
	}
	if resp, page := c.do(viewer, "POST", "/incidents/1/notes", url.Values{"csrf": {vcsrf}, "text": {"hi"}}); resp.StatusCode != 403 || !strings.Contains(page, "this needs the operator role") {
		t.Errorf("a viewer's note: %d %s", resp.StatusCode, page)
	}
	events, _ := c.st.IncidentEvents(inc.ID)
	var notes []string
	for _, e := range events {
		if e.Kind == store.EventNote {
			notes = append(notes, e.Actor+": "+e.Text)
		}
	}
	if strings.Join(notes, "\n") != "ann: <script>window.__xss = 4</script> restarted" {
		t.Errorf("notes: %q", notes)
	}
}
