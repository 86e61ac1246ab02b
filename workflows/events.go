package workflows

import (
	"fmt"
	"time"

	"github.com/opsrunbook/runbook/plan"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opsrunbook/runbook/attest"
)

// Event is the argument of the event Update (and of the event signal of
// runs started before seals), posted for waitFor steps. Sender and Groups
// come from the poster's authenticated token; the API sends only Seal, a
// SignedEvent it signed.
type Event struct {
	Name    string         `json:"name"`
	Payload map[string]any `json:"payload,omitempty"`
	Sender  string         `json:"sender"`
	Groups  []string       `json:"groups,omitempty"`
	At      time.Time      `json:"at"`
	Seal    *attest.Seal   `json:"seal,omitempty"`
	used    bool
}

// EventResult is what the event Update returns.
type EventResult struct {
	Event    string `json:"event"`
	Buffered int    `json:"buffered"` // events of that name not yet taken by a waitFor step
}

// validateEvent refuses an event that is not sealed for this run.
func (r *run) validateEvent(ctx workflow.Context, e Event) error {
	e, err := r.checkEvent(ctx, e)
	if err != nil {
		return err
	}
	if e.Name == "" || e.Sender == "" {
		return temporal.NewApplicationError("the event has no name or sender", VoteInvalid)
	}
	return nil
}

// postEvent buffers an accepted event, so one posted before its waitFor
// step starts is not lost.
func (r *run) postEvent(ctx workflow.Context, e Event) (EventResult, error) {
	e = r.acceptEvent(ctx, e)
	e.At, e.Seal = workflow.Now(ctx), nil
	r.events = append(r.events, e)
	n := 0
	for i := range r.events {
		if !r.events[i].used && r.events[i].Name == e.Name {
			n++
		}
	}
	return EventResult{Event: e.Name, Buffered: n}, nil
}

// listenForEvents buffers events sent as signals, for runs started before
// seals: a signal has no validator, so a run with a VoteKey takes events
// only through the event Update.
func (r *run) listenForEvents(ctx workflow.Context) {
	if r.signed() {
		return
	}
	ch := workflow.GetSignalChannel(ctx, SignalEvent)
	workflow.Go(ctx, func(c workflow.Context) {
		for {
			var e Event
			if !ch.Receive(c, &e) {
				return
			}
			e.At = workflow.Now(c)
			r.events = append(r.events, e)
		}
	})
}

// takeEvent consumes the oldest unused event named name from an allowed sender.
func (r *run) takeEvent(name string, senders []string) *Event {
	for i := range r.events {
		e := &r.events[i]
		if e.used || e.Name != name {
			continue
		}
		if len(senders) > 0 && !eligible(senders, e.Sender, e.Groups) {
			continue
		}
		e.used = true
		return e
	}
	return nil
}

// waitFor waits for an event, until its timeout if it has one.
func (r *run) waitFor(ctx workflow.Context, sc *scope, s *plan.Step, st *StepState) error {
	w := s.WaitFor
	timeout, err := r.ev.Duration(w.Timeout, r.vars(sc))
	if err != nil {
		return &stepError{step: s.ID, typ: ErrExpression, message: err.Error()}
	}
	st.Status = StatusWaitingEvent
	var got *Event
	ready := func() bool {
		if got == nil {
			got = r.takeEvent(w.Event, w.Senders)
		}
		return got != nil
	}
	if timeout > 0 {
		ok, err := workflow.AwaitWithTimeout(ctx, timeout, ready)
		if err != nil {
			return err
		}
		if !ok {
			st.Outputs = plan.WaitForOutputValue(false, nil, "")
			if w.OnTimeout == plan.WaitTimeoutContinue {
				return nil
			}
			return &stepError{step: s.ID, typ: ErrEventTimeout, message: fmt.Sprintf("no %s event within %s", w.Event, timeout)}
		}
	} else if err := workflow.Await(ctx, ready); err != nil {
		return err
	}
	st.Outputs = plan.WaitForOutputValue(true, got.Payload, got.Sender)
	return nil
}

// Senders reports whether user in groups may post event name to a step
// that waits for it; the API checks it before signalling.
func Senders(p *plan.Plan, event, user string, groups []string) bool {
	allowed := true
	p.Walk(func(s *plan.Step) bool {
		if s.WaitFor != nil && s.WaitFor.Event == event && len(s.WaitFor.Senders) > 0 {
			allowed = eligible(s.WaitFor.Senders, user, groups)
			return false
		}
		return true
	})
	return allowed
}
