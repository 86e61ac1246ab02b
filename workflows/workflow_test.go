package workflows_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/plan"

	"go.temporal.io/sdk/temporal"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/runbooks"
	"github.com/opsrunbook/runbook/workflows"
)

func shellOut(stdout string) action {
	return func(plan.ActionInput) (map[string]any, error) {
		return map[string]any{"exitCode": 0, "stdout": stdout, "stderr": "", "json": nil}, nil
	}
}

func TestSequenceConditionsAndOutputs(t *testing.T) {
	h := newHarness(t, map[string]action{"shell": shellOut("v2\n")})
	h.run(head+`  params: [{name: env, type: string, default: prod}]
  vars: {label: "'rel-' + params.env"}
  steps:
    - {id: build, action: shell, with: {command: [build, "${{ vars.label }}"]}}
    - {id: skipped, if: "params.env == 'dev'", action: shell, with: {command: [never]}}
    - {id: deploy, if: "steps.build.outputs.exitCode == 0", action: shell, with: {command: [deploy, "${{ steps.build.outputs.stdout.trim() }}"]}}
    - {id: count, set: {n: "steps.build.outputs.exitCode + 41"}}
  outputs:
    version: steps.deploy.outputs.stdout.trim()
    answer: vars.n
    skipped: steps.skipped.status
`, nil)
	res, errType := h.result()
	if errType != "" {
		t.Fatalf("failed: %s", errType)
	}
	want := map[string]any{"version": "v2", "answer": float64(41), "skipped": "skipped"}
	if !reflect.DeepEqual(res.Outputs, want) {
		t.Errorf("outputs = %v", res.Outputs)
	}
	if got := h.called("shell"); !reflect.DeepEqual(got, []string{"build", "deploy"}) {
		t.Errorf("ran %v", got)
	}
	if in := h.calls[1].in.Inputs["command"]; !reflect.DeepEqual(in, []any{"deploy", "v2"}) {
		t.Errorf("deploy command = %v", in)
	}
	if in := h.calls[0].in.Inputs["command"]; !reflect.DeepEqual(in, []any{"build", "rel-prod"}) {
		t.Errorf("build command = %v", in)
	}
	s := h.status()
	if s.Status != workflows.RunSucceeded || stepOf(t, s, "build").Status != workflows.StatusSucceeded || stepOf(t, s, "skipped").Status != workflows.StatusSkipped {
		t.Errorf("status = %+v", s)
	}
	if b := stepOf(t, s, "build"); b.Attempts != 1 || b.StartedAt == nil || b.EndedAt == nil {
		t.Errorf("build entry = %+v", b)
	}
}

func TestSecretsStayOutOfTheWorkflow(t *testing.T) {
	h := newHarness(t, nil)
	h.run(head+`  secrets: [TOKEN]
  params: [{name: host, type: string, default: db}]
  steps:
    - id: call
      action: http.request
      with:
        url: "https://api.example/${{ params.host }}"
        headers: {Authorization: "Bearer ${{ secrets.TOKEN }}"}
`, nil)
	if _, errType := h.result(); errType != "" {
		t.Fatal(errType)
	}
	in := h.calls[0].in
	if _, ok := in.Inputs["headers"]; ok || in.Inputs["url"] != "https://api.example/db" {
		t.Errorf("inputs = %v", in.Inputs)
	}
	if d := in.Deferred["headers"]; d == nil || in.Vars["params"] == nil || in.Vars["secrets"] != nil {
		t.Errorf("deferred = %v, vars = %v", in.Deferred, in.Vars)
	}
}

func TestParallelFailFastCancelsSiblings(t *testing.T) {
	h := newHarness(t, map[string]action{
		"shell": func(in plan.ActionInput) (map[string]any, error) {
			if in.StepID == "bad" {
				return nil, temporal.NewNonRetryableApplicationError("exit code 1", plan.ErrShellExit, nil)
			}
			return map[string]any{"exitCode": 0}, nil
		},
	})
	h.run(head+`  steps:
    - id: p
      parallel:
        - {id: slow, sleep: 1h}
        - {id: bad, action: shell, with: {command: ["false"]}}
    - {id: after, sleep: 1s}
`, nil)
	_, errType := h.result()
	if errType != plan.ErrShellExit {
		t.Fatalf("error type = %q", errType)
	}
	s := h.status()
	if got := stepOf(t, s, "slow").Status; got != workflows.StatusCancelled {
		t.Errorf("slow = %s, want cancelled", got)
	}
	if s.FailedStep != "bad" || stepOf(t, s, "after").Status != workflows.StatusPending {
		t.Errorf("status = %+v", s)
	}
}

func TestForEachBudgetOnErrorAndResults(t *testing.T) {
	h := newHarness(t, map[string]action{
		"shell": func(in plan.ActionInput) (map[string]any, error) {
			host := in.Inputs["command"].([]any)[1]
			if host == "b" || host == "d" {
				return nil, temporal.NewNonRetryableApplicationError("down", plan.ErrShellExit, nil)
			}
			return map[string]any{"exitCode": 0, "stdout": host}, nil
		},
	})
	src := head + `  params: [{name: budget, type: int, default: 2}]
  steps:
    - id: roll
      forEach: "['a', 'b', 'c', 'd', 'e']"
      as: host
      maxConcurrency: 2
      batchSize: 2
      maxErrors: "${{ params.budget }}"
      steps:
        - {id: patch, action: shell, with: {command: [patch, "${{ host }}"]}}
      onError:
        - {id: report, action: log, with: {message: "${{ host }} failed at ${{ error.step }}"}}
  outputs:
    failed: steps.roll.outputs.failed
    results: "steps.roll.outputs.results.map(r, r == null ? '-' : r.stdout).join(',')"
`
	h.run(src, nil)
	res, errType := h.result()
	if errType != "" {
		t.Fatalf("failed: %s", errType)
	}
	if res.Outputs["failed"] != float64(2) || res.Outputs["results"] != "a,-,c,-,e" {
		t.Errorf("outputs = %v", res.Outputs)
	}
	var msgs []string
	for _, c := range h.calls {
		if c.action == "log" {
			msgs = append(msgs, c.in.Inputs["message"].(string))
		}
	}
	if !reflect.DeepEqual(msgs, []string{"b failed at patch", "d failed at patch"}) {
		t.Errorf("onError messages = %v", msgs)
	}
	// A budget of 1 stops the roll: e never starts.
	h = newHarness(t, map[string]action{"shell": h2shell})
	h.run(src, map[string]any{"budget": 1})
	if _, errType := h.result(); errType != workflows.ErrForEachBudget {
		t.Fatalf("error type = %q", errType)
	}
	if got := h.called("shell"); len(got) != 4 {
		t.Errorf("patched %d hosts, want 4 (the batch with d finishes, e never starts)", len(got))
	}
}

func h2shell(in plan.ActionInput) (map[string]any, error) {
	host := in.Inputs["command"].([]any)[1]
	if host == "b" || host == "d" {
		return nil, temporal.NewNonRetryableApplicationError("down", plan.ErrShellExit, nil)
	}
	return map[string]any{"exitCode": 0, "stdout": host}, nil
}

const approvalSrc = head + `  steps:
    - id: gate
      approval:
        message: "ship it?"
        approvers: ["group:board", carol]
        minApprovals: 2
        timeout: 4h
        inputs: [{name: size, type: int, default: 1}]
    - {id: after, action: log, with: {message: "${{ steps.gate.outputs.approvedBy.join(',') }} size ${{ string(steps.gate.outputs.inputs.size) }}"}}
`

func TestApprovalRules(t *testing.T) {
	h := newHarness(t, nil)
	answers := make([]error, 7)
	board := []string{"board"}
	h.vote(time.Minute, workflows.VoteRequest{Step: "gate", Decision: "approve", User: "mallory"}, &answers[0])
	h.vote(2*time.Minute, workflows.VoteRequest{Step: "gate", Decision: "approve", User: "ann", Groups: board}, &answers[1])
	h.vote(3*time.Minute, workflows.VoteRequest{Step: "gate", Decision: "approve", User: "bob", Groups: board, Inputs: map[string]any{"size": 5}}, &answers[2])
	h.vote(4*time.Minute, workflows.VoteRequest{Step: "gate", Decision: "approve", User: "bob", Groups: board}, &answers[3])
	h.vote(5*time.Minute, workflows.VoteRequest{Step: "nope", Decision: "approve", User: "carol"}, &answers[4])
	h.vote(6*time.Minute, workflows.VoteRequest{Step: "gate", Decision: "maybe", User: "carol"}, &answers[5])
	h.vote(7*time.Minute, workflows.VoteRequest{Step: "gate", Decision: "approve", User: "carol", Inputs: map[string]any{"size": 9}}, &answers[6])
	h.run(approvalSrc, nil)
	if _, errType := h.result(); errType != "" {
		t.Fatalf("failed: %s", errType)
	}
	wantTypes := []string{workflows.VoteNotApprover, workflows.VoteSelf, "", workflows.VoteAlreadyVoted, workflows.VoteNotWaiting, workflows.VoteInvalid, ""}
	for i, want := range wantTypes {
		if got := errType(answers[i]); got != want {
			t.Errorf("vote %d: answered %q (%v), want %q", i, got, answers[i], want)
		}
	}
	s := h.status()
	gate := stepOf(t, s, "gate")
	if len(gate.Votes) != 2 || gate.Outputs["decision"] != "approved" {
		t.Errorf("gate = %+v", gate)
	}
	if msg := h.calls[0].in.Inputs["message"]; msg != "bob,carol size 9" {
		t.Errorf("message = %v", msg)
	}
}

func errType(err error) string {
	if err == nil {
		return ""
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Type()
	}
	return err.Error()
}

func TestApprovalVetoAndTimeout(t *testing.T) {
	h := newHarness(t, nil)
	var a1, a2 error
	h.vote(time.Minute, workflows.VoteRequest{Step: "gate", Decision: "approve", User: "carol"}, &a1)
	h.vote(2*time.Minute, workflows.VoteRequest{Step: "gate", Decision: "reject", User: "bob", Groups: []string{"board"}, Comment: "not today"}, &a2)
	h.run(approvalSrc, nil)
	if _, errType := h.result(); errType != workflows.ErrApprovalReject {
		t.Fatalf("error type = %q", errType)
	}
	if h.called("log") != nil {
		t.Error("a step after a rejected approval ran")
	}

	h = newHarness(t, nil)
	h.run(approvalSrc, nil)
	if _, errType := h.result(); errType != workflows.ErrApprovalTimeout {
		t.Fatalf("timeout: error type = %q", errType)
	}
}

func TestApprovalEscalates(t *testing.T) {
	src := head + `  steps:
    - id: gate
      approval: {approvers: [ann2], timeout: 1h, onTimeout: escalate, escalateTo: ["group:leads"]}
`
	h := newHarness(t, nil)
	var early, late error
	h.vote(30*time.Minute, workflows.VoteRequest{Step: "gate", Decision: "approve", User: "lee", Groups: []string{"leads"}}, &early)
	h.vote(90*time.Minute, workflows.VoteRequest{Step: "gate", Decision: "approve", User: "lee", Groups: []string{"leads"}}, &late)
	h.run(src, nil)
	if _, et := h.result(); et != "" {
		t.Fatalf("failed: %s", et)
	}
	if errType(early) != workflows.VoteNotApprover || late != nil {
		t.Errorf("before escalation: %v; after: %v", early, late)
	}
}

const compensationSrc = head + `  timeout: 2h
  steps:
    - id: one
      action: shell
      with: {command: [do, one]}
      compensate: {action: shell, with: {command: [undo, "${{ steps.one.outputs.stdout }}"]}}
    - id: two
      action: shell
      with: {command: [do, two]}
      compensate:
        steps:
          - {id: undo_two, action: shell, with: {command: [undo, two]}}
          - {id: settle, sleep: 1m}
    - id: three
      action: shell
      with: {command: [do, three]}
  onFailure:
    - {id: tell, action: log, with: {message: "${{ error.step }}: ${{ error.type }}: ${{ error.message }}"}}
  finally:
    - {id: bye, action: log, with: {message: "one is ${{ steps.one.status }}"}}
`

func TestCompensationsRunInReverseThenOnFailureThenFinally(t *testing.T) {
	var order []string
	h := newHarness(t, map[string]action{
		"shell": func(in plan.ActionInput) (map[string]any, error) {
			cmd := fmt.Sprint(in.Inputs["command"])
			order = append(order, cmd)
			if cmd == "[do three]" {
				return nil, temporal.NewNonRetryableApplicationError("exit code 2: boom", plan.ErrShellExit, nil)
			}
			return map[string]any{"exitCode": 0, "stdout": "out-" + in.StepID}, nil
		},
		"log": func(in plan.ActionInput) (map[string]any, error) {
			order = append(order, in.Inputs["message"].(string))
			return map[string]any{"message": in.Inputs["message"]}, nil
		},
	})
	h.run(compensationSrc, nil)
	if _, errType := h.result(); errType != plan.ErrShellExit {
		t.Fatalf("error type = %q", errType)
	}
	want := []string{"[do one]", "[do two]", "[do three]", "[undo two]", "[undo out-one]",
		"three: ShellExitError: exit code 2: boom", "one is compensated"}
	if !reflect.DeepEqual(order, want) {
		t.Errorf("order:\n %v\nwant\n %v", order, want)
	}
}

func TestCancelRunsCompensationsAndFinally(t *testing.T) {
	var order []string
	h := newHarness(t, map[string]action{
		"shell": func(in plan.ActionInput) (map[string]any, error) {
			order = append(order, fmt.Sprint(in.Inputs["command"]))
			return map[string]any{"exitCode": 0, "stdout": "x"}, nil
		},
		"log": func(in plan.ActionInput) (map[string]any, error) {
			order = append(order, in.Inputs["message"].(string))
			return map[string]any{}, nil
		},
	})
	src := strings.Replace(compensationSrc, "    - id: three\n", "    - {id: wait, sleep: 1h}\n    - id: three\n", 1)
	h.env.RegisterDelayedCallback(h.env.CancelWorkflow, 10*time.Minute)
	h.run(src, nil)
	if _, errType := h.result(); errType != "Canceled" {
		t.Fatalf("error = %q", errType)
	}
	want := []string{"[do one]", "[do two]", "[undo two]", "[undo x]", "one is compensated"}
	if !reflect.DeepEqual(order, want) {
		t.Errorf("order = %v, want %v (no onFailure on cancel)", order, want)
	}
	if s := h.status(); s.Status != workflows.RunCancelled || stepOf(t, s, "wait").Status != workflows.StatusCancelled {
		t.Errorf("status = %s, wait = %s", s.Status, stepOf(t, s, "wait").Status)
	}
}

func TestRunTimeoutStillCompensatesAndFinishes(t *testing.T) {
	var undone, finished bool
	h := newHarness(t, map[string]action{
		"shell": func(in plan.ActionInput) (map[string]any, error) {
			undone = undone || fmt.Sprint(in.Inputs["command"]) == "[undo x]"
			return map[string]any{"exitCode": 0, "stdout": "x"}, nil
		},
		"log": func(in plan.ActionInput) (map[string]any, error) {
			finished = finished || strings.HasPrefix(in.Inputs["message"].(string), "one is")
			return map[string]any{}, nil
		},
	})
	src := strings.Replace(compensationSrc, "    - id: three\n", "    - {id: wait, sleep: 3h}\n    - id: three\n", 1)
	h.run(src, nil)
	if _, errType := h.result(); errType != workflows.ErrRunTimeout {
		t.Fatalf("error type = %q", errType)
	}
	if !undone || !finished {
		t.Errorf("compensated %v, finally ran %v", undone, finished)
	}
}

func TestRepeatUntilWithTimers(t *testing.T) {
	probes := 0
	h := newHarness(t, map[string]action{
		"http.check": func(plan.ActionInput) (map[string]any, error) {
			probes++
			return map[string]any{"healthy": probes >= 3, "status": 200, "latencyMs": 5, "error": ""}, nil
		},
	})
	h.run(head+`  steps:
    - id: wait_healthy
      action: http.check
      with: {url: "http://127.0.0.1:1/healthz"}
      repeat: {until: "outputs.healthy && outputs.status == 200", every: 30s, timeout: 5m}
`, nil)
	if _, et := h.result(); et != "" {
		t.Fatal(et)
	}
	if st := stepOf(t, h.status(), "wait_healthy"); probes != 3 || st.Attempts != 3 {
		t.Errorf("probes %d, attempts %d", probes, st.Attempts)
	}
	h = newHarness(t, map[string]action{"http.check": func(plan.ActionInput) (map[string]any, error) {
		return map[string]any{"healthy": false, "status": 503}, nil
	}})
	h.run(head+`  params: [{name: max_wait, type: duration, default: 5m}]
  steps:
    - {id: never, action: http.check, with: {url: "http://127.0.0.1:1/"}, repeat: {until: outputs.healthy, every: 1m, timeout: "${{ params.max_wait }}"}}
`, nil)
	if _, et := h.result(); et != workflows.ErrRepeatTimeout {
		t.Fatalf("error type = %q", et)
	}
	// The message says how long the repeat tried, why it stopped and what
	// the last probe saw.
	want := `repeat.until outputs.healthy still false after 4m0s; the next probe, 1m0s later, would pass the 5m0s timeout; last outputs: {"healthy":false,"status":503}`
	if err := h.env.GetWorkflowError(); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error = %v, want %s", err, want)
	}
}

func TestWaitForEvents(t *testing.T) {
	src := head + `  steps:
    - {id: dns, waitFor: {event: dns-updated, timeout: 1h, senders: ["group:net"]}}
    - {id: next, action: log, with: {message: "${{ string(steps.dns.outputs.payload.ttl) }} from ${{ steps.dns.outputs.sender }}"}}
    - {id: optional, waitFor: {event: never, timeout: 10m, onTimeout: continue}}
`
	h := newHarness(t, nil)
	h.env.RegisterDelayedCallback(func() {
		h.env.SignalWorkflow(workflows.SignalEvent, workflows.Event{Name: "dns-updated", Sender: "eve", Payload: map[string]any{"ttl": 1}})
		h.env.SignalWorkflow(workflows.SignalEvent, workflows.Event{Name: "dns-updated", Sender: "nat", Groups: []string{"net"}, Payload: map[string]any{"ttl": 60}})
	}, 5*time.Minute)
	h.run(src, nil)
	if _, et := h.result(); et != "" {
		t.Fatal(et)
	}
	if msg := h.calls[0].in.Inputs["message"]; msg != "60 from nat" {
		t.Errorf("message = %v (an event from a non-sender must be ignored)", msg)
	}
	if st := stepOf(t, h.status(), "optional"); st.Status != workflows.StatusSucceeded || st.Outputs["received"] != false {
		t.Errorf("optional = %+v", st)
	}
}

func TestAssertAndExit(t *testing.T) {
	h := newHarness(t, nil)
	h.run(head+`  params: [{name: n, type: int, default: 3}]
  steps:
    - {id: check, assert: {that: "params.n < 2", message: "n is ${{ params.n }}"}}
`, nil)
	if _, et := h.result(); et != workflows.ErrAssertion {
		t.Fatalf("error type = %q", et)
	}
	if st := stepOf(t, h.status(), "check"); st.Error != "n is 3" {
		t.Errorf("assert error = %q", st.Error)
	}
	h = newHarness(t, nil)
	h.run(head+`  steps:
    - {id: quiet, if: "run.trigger == 'api'", exit: {message: "nothing to do for ${{ run.triggeredBy }}"}}
    - {id: work, action: log, with: {message: never}}
  finally:
    - {id: bye, action: log, with: {message: bye}}
`, nil)
	res, et := h.result()
	if et != "" || res.ExitMessage != "nothing to do for ann" {
		t.Fatalf("result %+v, %q", res, et)
	}
	if got := h.called("log"); !reflect.DeepEqual(got, []string{"bye"}) {
		t.Errorf("ran %v", got)
	}
}

func TestSubRunbookRunsAsChild(t *testing.T) {
	h := newHarness(t, map[string]action{"shell": shellOut("/backups/db.dump\n")})
	child := strings.Replace(head, "name: t}", "name: backup}", 1) + `  params: [{name: db, type: string, required: true}]
  steps:
    - {id: dump, action: shell, with: {command: [dump, "${{ params.db }}"]}}
  outputs:
    path: steps.dump.outputs.stdout.trim()
`
	parent := head + `  steps:
    - {id: sub, runbook: {name: backup, params: {db: main}}}
    - {id: use, action: log, with: {message: "${{ steps.sub.outputs.path }}"}}
`
	results := runbooks.BuildSet([]runbooks.Source{{File: "p.yaml", Data: []byte(parent)}, {File: "c.yaml", Data: []byte(child)}},
		runbooks.Options{Actions: activities.Catalog()})
	if results[0].Plan == nil {
		t.Fatal(results[0].Diagnostics)
	}
	h.env.ExecuteWorkflow(workflows.WorkflowName, workflows.RunInput{Plan: results[0].Plan, Trigger: "api", TriggeredBy: "ann"})
	if _, et := h.result(); et != "" {
		t.Fatal(et)
	}
	if h.calls[0].in.Inputs["command"].([]any)[1] != "main" || h.calls[1].in.Inputs["message"] != "/backups/db.dump" {
		t.Errorf("calls = %+v", h.calls)
	}
}
