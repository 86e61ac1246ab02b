package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/devserver/devtest"
	"github.com/opsrunbook/runbook/runbooks"
	"github.com/opsrunbook/runbook/server"
	"github.com/opsrunbook/runbook/steplog"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/web"
	"github.com/opsrunbook/runbook/worker"
)

func TestMain(m *testing.M) { devtest.Main(m) }

// Chromium is Debian's chromium package, which .ci/run installs.
const Chromium = "/usr/bin/chromium"

const releaseRunbook = `apiVersion: runbook/v1
kind: Runbook
metadata:
  name: release
  description: "Releases <b>a service</b>"
spec:
  params:
    - {name: who, type: string, required: true, pattern: "^[^;]*$"}
  steps:
    - id: greet
      action: log
      with: {message: "hello ${{ params.who }}"}
    - id: board
      approval:
        approvers: ["group:board"]
        minApprovals: 2
        timeout: 2h
        message: "release for ${{ params.who }}?"
        inputs:
          - {name: ticket, type: string, pattern: "^CHG-[0-9]+$", required: true}
    - {id: soak, sleep: 10m}
    - id: done
      action: log
      with: {message: "released"}
`

const flakyRunbook = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: flaky}
spec:
  schedules: [{name: nightly, cron: "0 3 * * *"}]
  steps:
    - id: boom
      action: shell
      onStepFailure: ask
      with: {command: ["false"]}
    - {id: after, action: log, with: {message: "after"}}
`

const fanoutRunbook = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: fanout, labels: {domain: change}}
spec:
  params:
    - {name: hosts, type: list, items: string, default: [a]}
  steps:
    - id: both
      parallel:
        - {id: left, action: log, with: {message: "left"}}
        - {id: right, action: log, with: {message: "right"}}
    - id: each
      forEach: params.hosts
      steps:
        - {id: ping, action: log, with: {message: "${{ item }}"}}
    - {id: gate, approval: {approvers: ["group:board"]}}
    - {id: apply, action: log, with: {message: "after ${{ steps.left.outputs.message }} on ${{ string(size(params.hosts)) }} hosts"}}
`

// stack is the console on an API on the embedded Temporal server, with
// a worker, on 127.0.0.1.
type stack struct {
	t      *testing.T
	st     *store.Store
	apiSrv *server.API
	srv    *httptest.Server
	tokens map[string]string
}

func newStack(t *testing.T) *stack {
	t.Helper()
	c := devtest.Client(t)
	st, err := store.Open(filepath.Join(t.TempDir(), "web.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	api := &server.API{Store: st, Temporal: c, TaskQueue: worker.TaskQueue, Catalog: activities.Catalog(),
		Scheduler: &server.Scheduler{Client: c, TaskQueue: worker.TaskQueue}}
	for _, src := range []string{releaseRunbook, flakyRunbook, fanoutRunbook} {
		if _, _, _, err := api.Register(context.Background(), []byte(src), "alice"); err != nil {
			t.Fatal(err)
		}
	}
	console, err := web.New(web.Options{API: api.Handler(), Store: st})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(console.Handler())
	t.Cleanup(srv.Close)
	s := &stack{t: t, st: st, apiSrv: api, srv: srv, tokens: map[string]string{}}
	for user, roles := range map[string][]string{"ann": {"operator", "approver"}, "bob": {"approver"}, "cy": {"approver"}, "vic": {"viewer"}} {
		tok, _, err := st.CreateToken(user, roles, []string{"board"})
		if err != nil {
			t.Fatal(err)
		}
		s.tokens[user] = tok
	}
	return s
}

// api calls the API with user's token.
func (s *stack) api(user, path string, out any) {
	s.t.Helper()
	req, _ := http.NewRequest("GET", s.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+s.tokens[user])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		s.t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		s.t.Fatal(err)
	}
}

// browsers starts one headless Chromium; each user gets a browser
// context of its own (own cookies), as separate people would.
func browsers(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(Chromium); err != nil {
		t.Skipf("%s is not installed (apt-get install chromium; .ci/run does): %v", Chromium, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(Chromium), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1200, 900))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", Chromium, err)
	}
	return ctx
}

// person is one user's browser context.
type person struct {
	t    *testing.T
	name string
	ctx  context.Context
	base string
}

func (s *stack) person(browser context.Context, name string) *person {
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	s.t.Cleanup(cancel)
	// The tab is made on the first run, and closed when that run's
	// context ends: it is made here, without a timeout.
	if err := chromedp.Do(ctx); err != nil {
		s.t.Fatal(err)
	}
	p := &person{t: s.t, name: name, ctx: ctx, base: s.srv.URL}
	p.run(chromedp.Navigate(s.srv.URL+"/login"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), s.tokens[name]),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("whoami")))
	if got := p.text("#whoami"); got != name {
		s.t.Fatalf("signed in as %q, want %s", got, name)
	}
	return p
}

func (p *person) run(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("%s: %v\n%s", p.name, err, p.where())
	}
}

// where is the page's address and text, for a failure's message.
func (p *person) where() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	return "at " + loc + ":\n" + body
}

func get[T any](p *person, a chromedp.Action[T]) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		p.t.Fatalf("%s: %v\n%s", p.name, err, p.where())
	}
	return v
}

func (p *person) text(sel string) string {
	p.t.Helper()
	return strings.TrimSpace(get(p, chromedp.Text(chromedp.CSS(sel))))
}

func (p *person) is(js string) bool {
	p.t.Helper()
	return get(p, chromedp.Evaluate[bool](js))
}

// until waits for js to be true on the page, across the page's own
// reloads (the run page reloads when the run ends).
func (p *person) until(js string) {
	p.t.Helper()
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
		var ok bool
		ok, err = chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		cancel()
		if err == nil && ok {
			return
		}
	}
	p.t.Fatalf("%s: never true: %s (last error: %v)\n%s", p.name, js, err, p.where())
}

func (p *person) open(path string, waitFor string) {
	p.t.Helper()
	p.run(chromedp.Navigate(p.base+path), chromedp.WaitVisible(chromedp.CSS(waitFor)))
}

// shot saves the page as docs/console-NAME.png when RECORD_SCREENSHOTS
// is set, so docs/console.md shows the pages as they are.
func (p *person) shot(name string) {
	p.t.Helper()
	if os.Getenv("RECORD_SCREENSHOTS") == "" {
		return
	}
	img := get(p, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join("..", "docs", "console-"+name+".png"), img, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// post submits a form the page does not offer, as a forger would: to
// action, with fields (the value "session" takes the page's own CSRF
// token).
func (p *person) post(action string, fields map[string]string) {
	p.t.Helper()
	b, _ := json.Marshal(fields)
	js := fmt.Sprintf(`(() => {
		const f = document.createElement("form");
		f.method = "post"; f.action = %q;
		const fields = %s;
		for (const [k, v] of Object.entries(fields)) {
			const i = document.createElement("input");
			i.type = "hidden"; i.name = k;
			i.value = v === "session" ? document.querySelector("input[name=csrf]").value : v;
			f.appendChild(i);
		}
		document.body.appendChild(f);
		f.submit();
		return true;
	})()`, action, b)
	p.is(js)
	p.run(chromedp.WaitVisible(chromedp.ID("refused")))
}

// TestBrowser drives the console in Chromium as four people: the starter
// starts a run from the form (a bad pattern refused by the page and, when
// forced, by the server), two approvers approve from their inboxes while
// a viewer watches the timeline change without reloading; the starter's
// own vote is refused with the API's reason; the viewer has no form and
// a forged vote is refused; a CSRF-less post is refused; a <script>
// param is inert; sign-out ends the session.
func TestBrowser(t *testing.T) {
	s := newStack(t)
	browser := browsers(t)
	ann := s.person(browser, "ann")

	// Start a run from the form.
	ann.open("/runbooks/release", "#start")
	if got := ann.text("#description"); got != "Releases <b>a service</b>" {
		t.Errorf("description: %q", got)
	}
	ann.run(chromedp.SendKeys(chromedp.ID("f-param-who"), "a;b"))
	if ann.is(`document.getElementById("start").checkValidity()`) {
		t.Error("the browser takes a value against the param's pattern")
	}
	ann.run(chromedp.Click(chromedp.ID("start-run")), chromedp.Sleep(300*time.Millisecond))
	if loc := get(ann, chromedp.Location()); !strings.HasSuffix(loc, "/runbooks/release") {
		t.Fatalf("the page sent a value against the pattern: at %s", loc)
	}
	ann.run(chromedp.RemoveAttribute(chromedp.ID("f-param-who"), "pattern"), chromedp.Click(chromedp.ID("start-run")),
		chromedp.WaitVisible(chromedp.ID("refused")))
	if got := ann.text("#refused"); !strings.Contains(got, "invalid params") || !strings.Contains(got, "^[^;]*$") {
		t.Errorf("the server's refusal: %q", got)
	}
	if runs, _, _ := s.st.Runs(store.RunFilter{}); len(runs) != 0 {
		t.Fatalf("a refused start made %d runs", len(runs))
	}
	const payload = `<script>window.__xss=1</script><img src=x onerror="window.__xss=2">`
	ann.run(chromedp.SetValue(chromedp.ID("f-param-who"), payload), chromedp.Click(chromedp.ID("start-run")),
		chromedp.WaitVisible(chromedp.ID("run")))
	runID := get(ann, chromedp.AttributeValue(chromedp.ID("run"), "data-run")).Value
	if runID == "" || ann.text("#done") != "Done: start." {
		t.Fatalf("run %q, %q", runID, ann.text("#done"))
	}

	// A viewer watches the run page.
	vic := s.person(browser, "vic")
	vic.open("/runs/"+runID, "#timeline")
	boardStatus := `document.querySelector('#timeline tr[data-key="board"] [data-field=status]').textContent`
	vic.until(boardStatus + ` === "waiting-approval"`)
	vic.is(`window.__samePage = true`)

	// The starter may not approve: the API's reason is shown.
	ann.open("/runs/"+runID+"/approvals/board", "#vote")
	if ann.text("#starter") != "ann" || !strings.Contains(ann.text("#not-mine"), "a vote is refused, with the reason") {
		t.Errorf("the starter's approval page: %q", ann.text("main"))
	}
	ann.run(chromedp.SendKeys(chromedp.ID("f-input-ticket"), "CHG-1"), chromedp.Click(chromedp.ID("approve")),
		chromedp.WaitVisible(chromedp.ID("refused")))
	if got := ann.text("#refused .reason"); got != "ann started this run and may not approve it" {
		t.Errorf("self-approval refusal: %q", got)
	}

	// Two approvers approve from their inboxes.
	for i, name := range []string{"bob", "cy"} {
		p := s.person(browser, name)
		p.open("/", "#mine")
		if name == "bob" {
			p.shot("inbox")
		}
		row := fmt.Sprintf(`#mine tr[data-run=%q]`, runID)
		if got := p.text(row + " td:nth-child(3)"); got != "release for "+payload+"?" {
			t.Errorf("%s's inbox row: %q", name, got)
		}
		if got := p.text(row + " td:nth-child(4)"); got != fmt.Sprintf("%d of 2", i) {
			t.Errorf("%s's inbox votes: %q", name, got)
		}
		if got := p.text(row + " td:nth-child(5)"); !regexp.MustCompile(`^\d+s \(since .+\)$`).MatchString(got) {
			t.Errorf("%s's inbox waiting: %q", name, got)
		}
		if got := p.text(row + " td:nth-child(6)"); !regexp.MustCompile(`^.+ \(in (2h0m0s|1h59m0s)\)$`).MatchString(got) {
			t.Errorf("%s's inbox deadline: %q", name, got)
		}
		p.run(chromedp.Click(chromedp.CSS(row+" a.open")), chromedp.WaitVisible(chromedp.ID("vote")))
		if name == "cy" {
			p.shot("approval")
		}
		if got := p.text("#params"); !strings.Contains(got, payload) {
			t.Errorf("params as text: %q", got)
		}
		if !p.is(`window.__xss === undefined && Array.from(document.scripts).every(s => s.src.endsWith("/static/console.js")) && document.querySelectorAll("#params img, #message img").length === 0`) {
			t.Error("the param's markup ran or made elements")
		}
		p.run(chromedp.SendKeys(chromedp.ID("f-input-ticket"), fmt.Sprintf("CHG-%d", 42+i)),
			chromedp.SendKeys(chromedp.ID("comment"), "fine by "+name),
			chromedp.Click(chromedp.ID("approve")), chromedp.WaitVisible(chromedp.ID("done")))
		if got := p.text("#votes"); !strings.Contains(got, name) || !strings.Contains(got, "fine by "+name) {
			t.Errorf("%s's vote on the page: %q", name, got)
		}
		if name == "bob" {
			// The viewer sees no form, and a forged vote is refused by
			// the API; a post without the CSRF token is refused before.
			vic.open("/runs/"+runID+"/approvals/board", "#cannot")
			if !vic.is(`document.querySelectorAll("#vote, #cancel, #rerun").length === 0`) {
				t.Error("the viewer has action forms")
			}
			vic.post("/runs/"+runID+"/approvals/board", map[string]string{"csrf": "session", "decision": "approve", "input.ticket": "CHG-9"})
			if got := vic.text("#refused"); !strings.Contains(got, "this needs the approver role") {
				t.Errorf("the viewer's forged vote: %q", got)
			}
			p.post("/runs/"+runID+"/approvals/board", map[string]string{"decision": "approve"})
			if got := p.text("#refused"); !strings.Contains(got, "CSRF token is missing or wrong") {
				t.Errorf("a CSRF-less post: %q", got)
			}
			vic.open("/runs/"+runID, "#timeline")
			vic.until(boardStatus + ` === "waiting-approval"`)
			vic.is(`window.__samePage = true`)
		}
		if name == "cy" {
			// Sign-out: the cookie the browser had no longer works.
			res, err := chromedp.Call(p.ctx, network.GetCookies, network.GetCookiesParams{})
			if err != nil {
				t.Fatal(err)
			}
			p.run(chromedp.Click(chromedp.CSS("header button")), chromedp.WaitVisible(chromedp.ID("token")))
			found := false
			for _, ck := range res.Cookies {
				if ck.Name != web.SessionCookie {
					continue
				}
				found = true
				req, _ := http.NewRequest("GET", s.srv.URL+"/approvals", nil)
				req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
				resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
					t.Errorf("the session cookie after sign-out: %d %s", resp.StatusCode, resp.Header.Get("Location"))
				}
				if !ck.HTTPOnly || ck.SameSite != network.CookieSameSiteLax {
					t.Errorf("the session cookie: %+v", ck)
				}
			}
			if !found {
				t.Error("the browser had no session cookie")
			}
		}
	}

	// The viewer's page followed without reloading.
	vic.until(boardStatus + ` === "succeeded" && window.__samePage === true`)
	vic.shot("run")
	if !vic.is(`!document.getElementById("live").hidden`) {
		t.Error("the run page does not say it is live")
	}

	// The votes are the API's, as the signed-in callers, and audited so.
	var run struct {
		Steps []struct {
			ID    string `json:"id"`
			Votes []struct {
				User, Decision, Comment string
				Inputs                  map[string]any
			} `json:"votes"`
		} `json:"steps"`
	}
	s.api("vic", "/api/v1/runs/"+runID, &run)
	votes := run.Steps[1].Votes
	if len(votes) != 2 || votes[0].User != "bob" || votes[0].Comment != "fine by bob" || votes[0].Inputs["ticket"] != "CHG-42" || votes[1].User != "cy" {
		t.Errorf("votes: %+v", votes)
	}
	var audit struct {
		Entries []struct {
			Actor, Action, Outcome, Reason string
		} `json:"entries"`
	}
	s.api("vic", "/api/v1/audit?run="+runID, &audit)
	var trail []string
	for _, e := range audit.Entries {
		trail = append(trail, e.Actor+" "+e.Action+" "+e.Outcome+" "+e.Reason)
	}
	want := []string{"cy approval.vote ok ", "bob approval.vote ok ", "ann approval.vote refused ann started this run and may not approve it", "ann run.start ok "}
	if strings.Join(trail, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit:\n%s\nwant:\n%s", strings.Join(trail, "\n"), strings.Join(want, "\n"))
	}

	// The starter cancels it; the viewer's page shows the end.
	ann.open("/runs/"+runID, "#cancel")
	ann.run(chromedp.SendKeys(chromedp.ID("reason"), "enough"), chromedp.Click(chromedp.CSS("#cancel button")),
		chromedp.WaitVisible(chromedp.ID("done")))
	vic.until(`document.getElementById("run-status").textContent === "cancelled"`)
	// The shared test worker keeps no logs; these are the lines a worker
	// with the records as its log sink writes.
	if err := s.st.AppendLog(context.Background(), steplog.Key{RunID: runID, Step: "greet", Item: -1, Attempt: 1},
		[]steplog.Line{{At: time.Now(), Stream: "log", Text: "hello " + payload}}, steplog.Caps{}); err != nil {
		t.Fatal(err)
	}
	vic.open("/runs/"+runID+"/logs?step=greet", "#logs")
	if got := vic.text("#logs tbody"); !strings.Contains(got, "greet") || !strings.Contains(got, "hello "+payload) {
		t.Errorf("greet's logs: %q", got)
	}
}

// TestBrowserRecovery: a reject with a comment shows in the run's error;
// a step waiting for a decision has the decision form (fail ends the
// run); an ended run has the rerun form, which starts a linked run.
func TestBrowserRecovery(t *testing.T) {
	s := newStack(t)
	browser := browsers(t)
	ann, bob := s.person(browser, "ann"), s.person(browser, "bob")

	ann.open("/runbooks/release", "#start")
	ann.run(chromedp.SendKeys(chromedp.ID("f-param-who"), "api"), chromedp.Click(chromedp.ID("start-run")), chromedp.WaitVisible(chromedp.ID("run")))
	runID := get(ann, chromedp.AttributeValue(chromedp.ID("run"), "data-run")).Value
	bob.open("/", "#mine")
	bob.run(chromedp.Click(chromedp.CSS(fmt.Sprintf(`#mine tr[data-run=%q] a.open`, runID))), chromedp.WaitVisible(chromedp.ID("vote")),
		chromedp.SendKeys(chromedp.ID("f-input-ticket"), "CHG-7"), chromedp.SendKeys(chromedp.ID("comment"), "not during the freeze"),
		chromedp.Click(chromedp.ID("reject")), chromedp.WaitVisible(chromedp.ID("done")))
	bob.open("/runs/"+runID, "#timeline")
	bob.until(`document.getElementById("run-status").textContent === "failed"`)
	if got := bob.text("#run-error"); got != `approval "board" rejected by bob: not during the freeze (ApprovalRejected)` {
		t.Errorf("the rejected run's error: %q", got)
	}
	if !bob.is(`document.querySelectorAll("#rerun, #cancel, form.decision").length === 0`) {
		t.Error("an approver without the operator role has run actions")
	}

	// A decision.
	ann.open("/runbooks/flaky", "#start")
	ann.run(chromedp.Click(chromedp.ID("start-run")), chromedp.WaitVisible(chromedp.ID("run")))
	flaky := get(ann, chromedp.AttributeValue(chromedp.ID("run"), "data-run")).Value
	ann.until(`document.querySelector('#timeline tr[data-key="boom"] [data-field=status]').textContent === "waiting-decision"`)
	ann.run(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#timeline tr[data-key="boom"] form.decision`)))
	ann.run(chromedp.SendKeys(chromedp.CSS(`#timeline tr[data-key="boom"] form.decision input[name=comment]`), "give up"),
		chromedp.Click(chromedp.CSS(`#timeline tr[data-key="boom"] form.decision button[value=fail]`)), chromedp.WaitVisible(chromedp.ID("done")))
	ann.until(`document.getElementById("run-status").textContent === "failed"`)

	// A rerun of the ended run, from the top.
	ann.open("/runs/"+flaky, "#rerun")
	ann.run(chromedp.SetValue(chromedp.ID("rr-from"), ""), chromedp.SendKeys(chromedp.ID("rr-reason"), "once more"),
		chromedp.Click(chromedp.CSS("#rerun button")), chromedp.WaitVisible(chromedp.ID("done")))
	if got := ann.text("#done"); got != "Done: rerun." {
		t.Errorf("after rerun: %q", got)
	}
	newID := get(ann, chromedp.AttributeValue(chromedp.ID("run"), "data-run")).Value
	if newID == flaky || !strings.Contains(ann.text("main"), "Rerun of") {
		t.Errorf("rerun page: %s %q", newID, ann.text("main"))
	}
	// A schedule paused and unpaused from the runbook page.
	ann.open("/runbooks/flaky", "#schedules")
	ann.run(chromedp.Click(chromedp.CSS(`#schedules form[action$="/pause"] button`)))
	ann.until(`document.getElementById("done")?.textContent === "Done: pause."`)
	if got := ann.text("#schedules td:nth-child(4)"); got != "paused" {
		t.Errorf("schedule after pause: %q", got)
	}
	var sched struct{ Paused bool }
	s.api("ann", "/api/v1/runbooks/flaky/schedules/nightly", &sched)
	if !sched.Paused {
		t.Error("the API says the schedule is not paused")
	}
	ann.run(chromedp.Click(chromedp.CSS(`#schedules form[action$="/unpause"] button`)))
	ann.until(`document.getElementById("done")?.textContent === "Done: unpause."`)
	if got := ann.text("#schedules td:nth-child(4)"); got != "active" {
		t.Errorf("schedule after unpause: %q", got)
	}

	var audit struct {
		Entries []struct{ Actor, Action, Outcome string } `json:"entries"`
	}
	s.api("ann", "/api/v1/audit?runbook=flaky&action=run.start", &audit)
	if len(audit.Entries) != 2 {
		t.Errorf("starts of flaky: %+v", audit.Entries)
	}
	s.api("ann", "/api/v1/audit?runbook=flaky&since=2000-01-01T00:00:00Z&limit=7", &audit)
	var trail []string
	for _, e := range audit.Entries {
		trail = append(trail, e.Actor+" "+e.Action+" "+e.Outcome)
	}
	if got := strings.Join(trail, ", "); got != "ann schedule.unpause ok, ann schedule.pause ok, ann run.start ok, ann run.rerun ok, ann step.decision ok, ann run.start ok, alice runbook.register ok" {
		t.Errorf("audit of flaky: %s", got)
	}
}

// TestBrowserPlan: the runbook page draws the graph; a list param is a
// repeated field that grows; Preview shows what a start would do before
// Start; the run's graph shows each step's status, and the approval page
// what runs next with its inputs rendered from the run's outputs.
func TestBrowserPlan(t *testing.T) {
	s := newStack(t)
	browser := browsers(t)
	ann, bob := s.person(browser, "ann"), s.person(browser, "bob")

	ann.open("/runbooks/fanout", "#graph")
	if !ann.is(`document.querySelectorAll('#graph .g-node[data-step="both"] .g-branches > .g-branch').length === 2 && document.querySelector('#graph .g-node[data-step="each"] .g-node[data-step="ping"]') !== null`) {
		t.Errorf("the graph: %s", ann.text("#graph"))
	}
	ann.run(chromedp.SendKeys(chromedp.CSS(`#f-param-hosts input:nth-of-type(2)`), "b"),
		chromedp.Click(chromedp.CSS(`#f-param-hosts button.add`)),
		chromedp.SendKeys(chromedp.CSS(`#f-param-hosts input:nth-of-type(4)`), "c"),
		chromedp.Click(chromedp.ID("preview-run")), chromedp.WaitVisible(chromedp.ID("preview")))
	if got := ann.text(`#preview tr[data-step="each"] [data-field=decision]`); got != `run
once per item (3): ["a","b","c"]` && got != `runonce per item (3): ["a","b","c"]` {
		t.Errorf("the preview of each: %q", got)
	}
	if got := ann.text(`#preview tr[data-step="apply"] [data-field=input]`); got != "(at run time, from steps.left)" {
		t.Errorf("the preview of apply: %q", got)
	}
	if !ann.is(`Array.from(document.querySelectorAll('#f-param-hosts input')).map(i => i.value).join(",") === "a,b,c,,"`) {
		t.Error("the previewed form lost its values")
	}
	ann.run(chromedp.Click(chromedp.ID("start-run")), chromedp.WaitVisible(chromedp.ID("run")))
	runID := get(ann, chromedp.AttributeValue(chromedp.ID("run"), "data-run")).Value
	var run struct {
		Params map[string]any `json:"params"`
	}
	s.api("ann", "/api/v1/runs/"+runID, &run)
	if hosts, _ := json.Marshal(run.Params["hosts"]); string(hosts) != `["a","b","c"]` {
		t.Errorf("the run's hosts: %s", hosts)
	}
	ann.until(`document.querySelector('#timeline tr[data-key="gate"] [data-field=status]').textContent === "waiting-approval"`)
	ann.run(chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("graph")))
	for step, want := range map[string]string{"left": "succeeded", "ping": "3 succeeded", "gate": "waiting-approval", "apply": "pending"} {
		if got := ann.text(fmt.Sprintf(`#graph .g-node[data-step=%q] > .g-box .g-status`, step)); got != want {
			t.Errorf("graph status of %s: %q, want %q", step, got, want)
		}
	}

	bob.open("/runs/"+runID+"/approvals/gate", "#next")
	if got := bob.text(`#next tr[data-step="apply"] [data-field=input]`); got != `"after left on 3 hosts"` {
		t.Errorf("what runs next: %q", got)
	}
}

// TestBrowserFreeze: a freeze over now shows on the runbook page and in
// the preview; a start is refused with the freeze's reason; with a
// break-glass reason the run waits for the freeze's approval first.
func TestBrowserFreeze(t *testing.T) {
	s := newStack(t)
	now := time.Now().UTC()
	f, diags := runbooks.BuildFreeze("f.yaml", []byte(fmt.Sprintf(`apiVersion: runbook/v1
kind: Freeze
metadata: {name: year-end}
spec:
  reason: "Year-end <b>freeze</b>"
  windows: [{from: "%s", to: "%s"}]
  runbooks: {labels: {domain: change}}
  breakGlass: {approvers: ["group:board"]}
`, now.Add(-time.Hour).Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339))))
	if f == nil {
		t.Fatal(diags)
	}
	if _, _, err := s.st.PutFreeze("", f, "alice"); err != nil {
		t.Fatal(err)
	}
	browser := browsers(t)
	ann := s.person(browser, "ann")
	ann.open("/runbooks/fanout", "#freezes")
	if got := ann.text(`#freezes [data-freeze="year-end"]`); !strings.HasPrefix(got, "Frozen by year-end until") || !strings.HasSuffix(got, "unless a break-glass start is approved by group:board. Year-end <b>freeze</b>") {
		t.Errorf("the freeze on the runbook page: %q", got)
	}
	ann.run(chromedp.Click(chromedp.ID("preview-run")), chromedp.WaitVisible(chromedp.ID("preview")))
	if got := ann.text("#preview"); !strings.Contains(got, "year-end: active until") {
		t.Errorf("the preview: %q", got)
	}
	ann.run(chromedp.Click(chromedp.ID("start-run")), chromedp.WaitVisible(chromedp.ID("refused")))
	if got := ann.text("#refused .reason"); !strings.HasPrefix(got, "runbook fanout is frozen by freeze year-end until ") {
		t.Errorf("the refusal: %q", got)
	}
	ann.run(chromedp.SendKeys(chromedp.ID("break-glass"), "hotfix"), chromedp.Click(chromedp.ID("start-run")), chromedp.WaitVisible(chromedp.ID("run")))
	ann.until(`document.querySelector('#timeline tr[data-key="freeze-year-end"] [data-field=status]').textContent === "waiting-approval"`)
	ann.run(chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("graph")))
	if got := ann.text(`#graph .g-node[data-step="freeze-year-end"] > .g-box .g-status`); got != "waiting-approval" {
		t.Errorf("the exception in the graph: %q", got)
	}
}
