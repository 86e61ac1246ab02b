package server

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/workflows"
)

// The report of an ended run: its version hash, who started and who
// approved, each step's timing, params and outputs; as JSON and as
// Markdown with what users wrote escaped. A running run has none yet.
func TestRunReport(t *testing.T) {
	c := temporalStack(t)
	eachStore(t, func(t *testing.T, st *store.Store) {
		a := newTrustAPI(t, c, st)
		rb := a.register(`apiVersion: runbook/v1
kind: Runbook
metadata: {name: audited, title: Audited change}
spec:
  params: [{name: ticket, type: string, required: true}]
  steps:
    - id: gate
      approval: {approvers: ["group:board"]}
    - {id: work, action: log, with: {message: "did ${{ params.ticket }}"}}
  outputs:
    done: steps.work.outputs.message
`, 201)
		var run runView
		if got := a.call("POST", "/api/v1/runbooks/audited/runs", a.ann, map[string]any{"params": map[string]any{"ticket": "<script>x|y</script>"}}, &run); got != 201 {
			t.Fatalf("start: %d", got)
		}
		var p Problem
		waitFor(t, func() bool {
			return a.call("GET", "/api/v1/runs/"+run.ID+"/report", a.viewer, nil, &p) == 409
		})
		if p.Error != "run "+run.ID+" is running: its report is made once it ends" {
			t.Errorf("report of a running run: %+v", p)
		}
		if got := a.call("GET", "/api/v1/runs/"+run.ID+"/report?format=pdf", a.viewer, nil, &p); got != 400 || p.Error != "format must be json or markdown" {
			t.Errorf("format pdf: %d %+v", got, p)
		}
		if got := a.call("GET", "/api/v1/runs/nope/report", a.viewer, nil, &p); got != 404 {
			t.Errorf("unknown run: %d", got)
		}
		var v runView
		waitFor(t, func() bool {
			a.call("GET", "/api/v1/runs/"+run.ID, a.viewer, nil, &v)
			return len(v.Steps) > 0 && v.Steps[0].Status == workflows.StatusWaitingApproval
		})
		if got := a.call("POST", "/api/v1/runs/"+run.ID+"/approvals/gate", a.bob, map[string]any{"decision": "approve", "comment": "*ok* [go]"}, nil); got != 200 {
			t.Fatalf("vote: %d", got)
		}
		var rep runReport
		waitFor(t, func() bool { return a.call("GET", "/api/v1/runs/"+run.ID+"/report", a.viewer, nil, &rep) == 200 })
		if rep.Status != workflows.RunSucceeded || rep.VersionHash != rb.Hash || len(rep.VersionHash) != 64 || rep.StartedBy != "ann" || rep.Title != "Audited change" ||
			rep.Params["ticket"] != "<script>x|y</script>" || rep.Outputs["done"] != "did <script>x|y</script>" || rep.EndedAt == nil || rep.DurationSeconds <= 0 {
			t.Errorf("report: %+v", rep)
		}
		if len(rep.Approvals) != 1 || len(rep.Approvals[0].Votes) != 1 || rep.Approvals[0].Votes[0].User != "bob" || rep.Approvals[0].Votes[0].Comment != "*ok* [go]" {
			t.Errorf("approvals: %+v", rep.Approvals)
		}
		if len(rep.Steps) != 2 || rep.Steps[1].ID != "work" || rep.Steps[1].Seconds == nil || rep.Steps[1].Status != workflows.StatusSucceeded || rep.StepsOmitted != 0 {
			t.Errorf("steps: %+v", rep.Steps)
		}

		req, _ := http.NewRequest("GET", a.url+"/api/v1/runs/"+run.ID+"/report?format=markdown", nil)
		req.Header.Set("Authorization", "Bearer "+a.viewer)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		doc := string(body)
		if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/markdown; charset=utf-8" {
			t.Fatalf("markdown: %d %s", resp.StatusCode, ct)
		}
		for _, want := range []string{
			"# Run report: Audited change (audited)\n",
			"| Runbook | audited v1, sha256 `" + rb.Hash + "` |\n",
			"| Status | succeeded |\n",
			"| Started by | ann |\n",
			"| ticket | &lt;script&gt;x\\|y&lt;/script&gt; |\n",
			"| done | did &lt;script&gt;x\\|y&lt;/script&gt; |\n",
			"- gate: succeeded\n  - bob approve at ",
			": \\*ok\\* \\[go\\]\n",
		} {
			if !strings.Contains(doc, want) {
				t.Errorf("markdown lacks %q:\n%s", want, doc)
			}
		}
		if strings.Contains(doc, "<script>") {
			t.Errorf("markdown carries raw HTML:\n%s", doc)
		}
		if !regexp.MustCompile(`(?m)^\| work \|  \| succeeded \| \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \| \d+\.\d{3} \| 1 \|  \|$`).MatchString(doc) {
			t.Errorf("markdown step row:\n%s", doc)
		}
	})
}
