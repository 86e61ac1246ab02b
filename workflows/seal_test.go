package workflows_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"

	"github.com/opsrunbook/runbook/attest"
	"github.com/opsrunbook/runbook/workflows"
)

func signer(t *testing.T) *attest.Signer {
	t.Helper()
	key, err := attest.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := attest.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// startSigned runs src as run-1, started by ann through an alert whose
// fingerprint claims bob, with api's public key.
func (h *harness) startSigned(src string, api *attest.Signer) {
	h.t.Helper()
	p := compile(h.t, src)
	bound, err := p.BindParams(nil)
	if err != nil {
		h.t.Fatal(err)
	}
	h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "run-1"})
	h.env.ExecuteWorkflow(workflows.WorkflowName, workflows.RunInput{Plan: p, Params: bound, Trigger: "alert",
		TriggeredBy: "bob", StartedBy: "ann", VoteKey: api.PublicKey(), Version: 1})
}

// sealedVote is a vote as the API sends it: sealed by s for run at the
// test clock's time plus skew.
func (h *harness) sealedVote(s *attest.Signer, run string, skew time.Duration, vr workflows.VoteRequest) workflows.VoteRequest {
	body := &workflows.SignedVote{VoteRequest: vr}
	seal, err := s.Seal(attest.KindVote, run, h.env.Now().Add(skew), body)
	if err != nil {
		h.t.Fatal(err)
	}
	vr.Seal = seal
	return vr
}

// update sends an Update after delay, its argument made then.
func (h *harness) update(delay time.Duration, name string, arg func() any, answer *error) {
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(name, fmt.Sprint(delay), &testsuite.TestUpdateCallback{
			OnAccept:   func() {},
			OnReject:   func(err error) { *answer = err },
			OnComplete: func(_ any, err error) { *answer = err },
		}, arg())
	}, delay)
}

func TestVotesMustBeSealedByTheAPI(t *testing.T) {
	h := newHarness(t, nil)
	api, other := signer(t), signer(t)
	board := []string{"board"}
	bob := workflows.VoteRequest{Step: "gate", Decision: "approve", User: "bob", Groups: board}
	var replay workflows.VoteRequest
	cases := []struct {
		name string
		vote func() workflows.VoteRequest
		want string
	}{
		{"a vote sent straight to Temporal", func() workflows.VoteRequest { return bob }, workflows.SealMissing},
		{"sealed with another key", func() workflows.VoteRequest { return h.sealedVote(other, "run-1", 0, bob) }, workflows.SealForged},
		{"sealed for another run", func() workflows.VoteRequest { return h.sealedVote(api, "run-2", 0, bob) }, workflows.SealForged},
		{"sealed ten minutes ago", func() workflows.VoteRequest { return h.sealedVote(api, "run-1", -10*time.Minute, bob) }, workflows.SealReplayed},
		{"the starter, though the alert names bob", func() workflows.VoteRequest {
			return h.sealedVote(api, "run-1", 0, workflows.VoteRequest{Step: "gate", Decision: "approve", User: "ann", Groups: board})
		}, workflows.VoteSelf},
		{"plain fields changed under a valid seal", func() workflows.VoteRequest {
			v := h.sealedVote(api, "run-1", 0, workflows.VoteRequest{Step: "gate", Decision: "approve", User: "dave", Groups: board})
			v.Decision, v.User = "reject", "mallory" // the run reads the sealed body only
			return v
		}, ""},
		{"bob through the API", func() workflows.VoteRequest {
			replay = h.sealedVote(api, "run-1", 0, workflows.VoteRequest{Step: "gate2", Decision: "approve", User: "bob", Groups: board})
			return replay
		}, ""},
		{"bob's seal sent again", func() workflows.VoteRequest { return replay }, workflows.SealReplayed},
	}
	answers := make([]error, len(cases))
	for i, c := range cases {
		h.update(time.Duration(i+1)*time.Minute, workflows.UpdateApprove, func() any { return c.vote() }, &answers[i])
	}
	carol := func() any {
		return h.sealedVote(api, "run-1", 0, workflows.VoteRequest{Step: "gate2", Decision: "approve", User: "carol"})
	}
	var last error
	h.update(20*time.Minute, workflows.UpdateApprove, carol, &last)
	h.startSigned(head+`  steps:
    - {id: gate, approval: {approvers: ["group:board"], timeout: 1h}}
    - {id: gate2, approval: {approvers: ["group:board", carol], minApprovals: 2, timeout: 1h}}
`, api)
	if _, failed := h.result(); failed != "" {
		t.Fatalf("the run failed: %s", failed)
	}
	for i, c := range cases {
		if got := errType(answers[i]); got != c.want {
			t.Errorf("%s: answered %q (%v), want %q", c.name, got, answers[i], c.want)
		}
	}
	if last != nil {
		t.Errorf("carol: %v", last)
	}
	gate := stepOf(t, h.status(), "gate")
	if len(gate.Votes) != 1 || gate.Votes[0].User != "dave" || gate.Votes[0].Decision != "approve" {
		t.Errorf("gate's votes = %+v, want dave's sealed approval only", gate.Votes)
	}
}

func TestEventsMustBeSealedByTheAPI(t *testing.T) {
	h := newHarness(t, nil)
	api := signer(t)
	forged := workflows.Event{Name: "dns-updated", Sender: "nat", Groups: []string{"net"}, Payload: map[string]any{"ttl": 1}}
	h.env.RegisterDelayedCallback(func() {
		h.env.SignalWorkflow(workflows.SignalEvent, forged) // a signal has no validator: a sealed run ignores it
	}, time.Minute)
	var unsigned, wrongKind, sealed error
	h.update(2*time.Minute, workflows.UpdateEvent, func() any { return forged }, &unsigned)
	h.update(3*time.Minute, workflows.UpdateEvent, func() any {
		e := forged
		e.Seal, _ = api.Seal(attest.KindVote, "run-1", h.env.Now(), &workflows.SignedEvent{Event: forged})
		return e
	}, &wrongKind)
	h.update(4*time.Minute, workflows.UpdateEvent, func() any {
		e := workflows.Event{Name: "dns-updated", Sender: "nat", Groups: []string{"net"}, Payload: map[string]any{"ttl": 60}}
		e.Seal, _ = api.Seal(attest.KindEvent, "run-1", h.env.Now(), &workflows.SignedEvent{Event: e})
		return e
	}, &sealed)
	h.startSigned(head+`  steps:
    - {id: dns, waitFor: {event: dns-updated, timeout: 1h, senders: ["group:net"]}}
    - {id: next, action: log, with: {message: "${{ string(steps.dns.outputs.payload.ttl) }} from ${{ steps.dns.outputs.sender }}"}}
`, api)
	if _, failed := h.result(); failed != "" {
		t.Fatal(failed)
	}
	if errType(unsigned) != workflows.SealMissing || errType(wrongKind) != workflows.SealForged || sealed != nil {
		t.Errorf("unsigned: %v; sealed as a vote: %v; sealed: %v", unsigned, wrongKind, sealed)
	}
	if msg := h.calls[0].in.Inputs["message"]; msg != "60 from nat" {
		t.Errorf("message = %v, want the sealed event's", msg)
	}
}

// The run refuses, in the event Update's validator, an event no step
// waits for, a payload over MaxEventPayload and events of a name beyond
// MaxBufferedEvents held for steps not yet waiting; an event of another
// name still gets through, and the run ends with its finally.
func TestEventsAreCapped(t *testing.T) {
	h := newHarness(t, nil)
	api := signer(t)
	sealed := func(name string, payload map[string]any) func() any {
		return func() any {
			e := workflows.Event{Name: name, Sender: "nat", Payload: payload}
			e.Seal, _ = api.Seal(attest.KindEvent, "run-1", h.env.Now(), &workflows.SignedEvent{Event: e})
			return workflows.Event{Name: name, Seal: e.Seal} // the API sends only the seal's copy of the payload
		}
	}
	var unknown, big, goErr error
	later := make([]error, workflows.MaxBufferedEvents+1)
	h.update(time.Minute, workflows.UpdateEvent, sealed("anything", nil), &unknown)
	h.update(2*time.Minute, workflows.UpdateEvent, sealed("later", map[string]any{"x": strings.Repeat("x", workflows.MaxEventPayload)}), &big)
	for i := range later {
		h.update(3*time.Minute+time.Duration(i)*time.Second, workflows.UpdateEvent, sealed("later", map[string]any{"n": i}), &later[i])
	}
	h.update(5*time.Minute, workflows.UpdateEvent, sealed("go", nil), &goErr)
	h.startSigned(head+`  steps:
    - {id: first, waitFor: {event: go, timeout: 1h}}
    - {id: second, waitFor: {event: later, timeout: 1h}}
  finally:
    - {id: bye, action: log, with: {message: "${{ string(steps.second.outputs.payload.n) }}"}}
`, api)
	if _, failed := h.result(); failed != "" {
		t.Fatal(failed)
	}
	if errType(unknown) != workflows.EventUnknown || errType(big) != workflows.VoteInvalid || goErr != nil {
		t.Errorf("unknown name: %v; big payload: %v; go: %v", unknown, big, goErr)
	}
	for i, err := range later[:workflows.MaxBufferedEvents] {
		if err != nil {
			t.Errorf("later #%d: %v", i, err)
		}
	}
	if err := later[workflows.MaxBufferedEvents]; errType(err) != workflows.EventsPending {
		t.Errorf("later #%d, past the cap: %v, want %s", workflows.MaxBufferedEvents, err, workflows.EventsPending)
	}
	if msg := h.calls[0].in.Inputs["message"]; msg != "0" {
		t.Errorf("finally logged %v, want the first buffered event", msg)
	}
}
