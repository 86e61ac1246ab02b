package workflows

import (
	"encoding/json"
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

// Limits on what posters can put in a run's history; the API refuses
// beyond them first, the run refuses whatever reaches it past the API.
const (
	MaxEventPayload   = 64 << 10 // bytes of an event's payload, as JSON
	MaxBufferedEvents = 16       // events of one name held for steps not yet waiting
)

// Reasons an event is refused, as ApplicationError types, besides the
// seal's and VoteInvalid.
const (
	EventUnknown  = "UnknownEvent"  // 404: no step of the run waits for the name
	EventsPending = "TooManyEvents" // 429: MaxBufferedEvents of the name are held
)

// validateEvent refuses an event that is not sealed for this run, that no
// step of the run waits for, that is too large, or that would be held
// beyond MaxBufferedEvents. Validators do not replay, so these refusals
// leave no trace in the history and change no recorded run.
func (r *run) validateEvent(ctx workflow.Context, e Event) error {
	e, err := r.checkEvent(ctx, e)
	if err != nil {
		return err
	}
	if e.Name == "" || e.Sender == "" {
		return temporal.NewApplicationError("the event has no name or sender", VoteInvalid)
	}
	if !WaitsFor(r.plan, e.Name) {
		return temporal.NewApplicationError(fmt.Sprintf("no waitFor step of runbook %s waits for event %s", r.plan.Name, e.Name), EventUnknown)
	}
	if n := payloadSize(e.Payload); n > MaxEventPayload {
		return temporal.NewApplicationError(fmt.Sprintf("the payload is %d bytes of JSON; at most %d", n, MaxEventPayload), VoteInvalid)
	}
	if n := r.buffered(e.Name); n >= MaxBufferedEvents {
		return temporal.NewApplicationError(fmt.Sprintf("the run holds %d %s events no step has taken; at most %d", n, e.Name, MaxBufferedEvents), EventsPending)
	}
	return nil
}

// payloadSize is the length of a payload's JSON (encoding/json sorts map
// keys, so it is a function of the payload); an unencodable one counts as
// over any cap.
func payloadSize(p map[string]any) int {
	b, err := json.Marshal(p)
	if err != nil {
		return MaxEventPayload + 1
	}
	return len(b)
}

// buffered counts the events named name that no step has taken.
func (r *run) buffered(name string) int {
	n := 0
	for i := range r.events {
		if !r.events[i].used && r.events[i].Name == name {
			n++
		}
	}
	return n
}

// WaitsFor reports whether a waitFor step of p (not of its sub-runbooks,
// which are runs of their own) waits for event name.
func WaitsFor(p *plan.Plan, name string) bool {
	found := false
	p.Walk(func(s *plan.Step) bool {
		found = found || s.WaitFor != nil && s.WaitFor.Event == name
		return !found
	})
	return found
}

// postEvent buffers an accepted event, so one posted before its waitFor
// step starts is not lost.
func (r *run) postEvent(ctx workflow.Context, e Event) (EventResult, error) {
	e = r.acceptEvent(ctx, e)
	e.At, e.Seal = workflow.Now(ctx), nil
	r.events = append(r.events, e)
	return EventResult{Event: e.Name, Buffered: r.buffered(e.Name)}, nil
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
