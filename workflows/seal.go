package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opsrunbook/runbook/attest"
)

// SignedVote is the body the API seals for a vote: the vote as the API
// authenticated it, bound to one run and one moment.
type SignedVote struct {
	attest.Header `json:"seal"`
	VoteRequest   `json:"vote"`
}

// SignedEvent is the body the API seals for a posted event.
type SignedEvent struct {
	attest.Header `json:"seal"`
	Event         `json:"event"`
}

// Reasons a sealed message is refused, as ApplicationError types.
const (
	SealMissing  = "Unsigned" // 403: not sealed by the API
	SealForged   = "Forged"   // 403: the seal does not verify, or is for another run
	SealReplayed = "Replayed" // 409: a nonce the run has seen, or out of its window
)

// seen is the nonce of an accepted seal, kept for twice attest.Window (a
// seal dated up to Window ahead stays valid that long), so a captured
// seal cannot be sent again.
type seen struct {
	nonce string
	at    time.Time
}

// signed reports whether the run takes only sealed votes and events: runs
// started with the API's public key. Runs started before seals existed have
// none and take what they took then, so their histories replay.
func (r *run) signed() bool { return r.in.VoteKey != "" }

// checkVote verifies a vote's seal (in the validator) and returns the vote
// it carries.
func (r *run) checkVote(ctx workflow.Context, req VoteRequest) (VoteRequest, error) {
	if !r.signed() {
		return req, nil
	}
	var body SignedVote
	if err := r.check(ctx, req.Seal, attest.KindVote, &body); err != nil {
		return VoteRequest{}, err
	}
	return body.VoteRequest, nil
}

// checkEvent is checkVote for events.
func (r *run) checkEvent(ctx workflow.Context, e Event) (Event, error) {
	if !r.signed() {
		return e, nil
	}
	var body SignedEvent
	if err := r.check(ctx, e.Seal, attest.KindEvent, &body); err != nil {
		return Event{}, err
	}
	return body.Event, nil
}

func (r *run) check(ctx workflow.Context, s *attest.Seal, kind string, body attest.Body) error {
	h, err := attest.Open(r.in.VoteKey, s, kind, workflow.GetInfo(ctx).WorkflowExecution.ID, workflow.Now(ctx), body)
	switch {
	case errors.Is(err, attest.ErrUnsigned):
		return temporal.NewApplicationError(err.Error(), SealMissing)
	case errors.Is(err, attest.ErrStale):
		return temporal.NewApplicationError(err.Error(), SealReplayed)
	case err != nil:
		return temporal.NewApplicationError(err.Error(), SealForged)
	}
	for _, n := range r.nonces {
		if n.nonce == h.Nonce {
			return temporal.NewApplicationError("this signed message was used before", SealReplayed)
		}
	}
	return nil
}

// acceptVote decodes, in the update handler, the vote the validator
// accepted, and remembers its nonce. Handlers replay; validators do not, so
// this reads only the argument.
func (r *run) acceptVote(ctx workflow.Context, req VoteRequest) VoteRequest {
	if !r.signed() {
		return req
	}
	var body SignedVote
	_ = attest.Decode(req.Seal, &body)
	r.remember(ctx, body.Nonce)
	return body.VoteRequest
}

// acceptEvent is acceptVote for events.
func (r *run) acceptEvent(ctx workflow.Context, e Event) Event {
	if !r.signed() {
		return e
	}
	var body SignedEvent
	_ = attest.Decode(e.Seal, &body)
	r.remember(ctx, body.Nonce)
	return body.Event
}

func (r *run) remember(ctx workflow.Context, nonce string) {
	now := workflow.Now(ctx)
	keep := r.nonces[:0]
	for _, n := range r.nonces {
		if now.Sub(n.at) <= 2*attest.Window {
			keep = append(keep, n)
		}
	}
	r.nonces = append(keep, seen{nonce: nonce, at: now})
}

// startedBy is who started the run; for runs started before StartedBy
// existed, what triggered it.
func (in RunInput) startedBy() string {
	if in.StartedBy != "" {
		return in.StartedBy
	}
	return in.TriggeredBy
}

func (r *run) startedBy() string { return r.in.startedBy() }
