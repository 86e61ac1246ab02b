package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/workflows"
)

// StreamEvery is how often the event stream looks for step transitions.
const StreamEvery = 500 * time.Millisecond

// stepEvent is a "step" event: the entry as it is, and when it took the
// state the event tells (At).
type stepEvent struct {
	workflows.StepState
	At *time.Time `json:"at,omitempty"`
}

// transitions are the entries of st that changed since seen (by key:
// step[item]; by status and compensation), in the order they happened:
// by At (not-reached entries last at the same time), then in timeline
// order. seen is updated.
func transitions(st *workflows.Status, seen map[string]string) []stepEvent {
	var out []stepEvent
	for _, s := range st.Steps {
		key := s.ID
		if s.Item != nil {
			key = fmt.Sprintf("%s[%d]", s.ID, *s.Item)
		}
		state := s.Status
		switch {
		case s.CompensationEndedAt != nil:
			state += "/compensated"
		case s.CompensationStartedAt != nil:
			state += "/compensating"
		}
		if seen[key] == state {
			continue
		}
		seen[key] = state
		out = append(out, stepEvent{StepState: s, At: transitionAt(st, s)})
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].At, out[j].At
		switch {
		case a == nil || b == nil:
			return a != nil && b == nil
		case !a.Equal(*b):
			return a.Before(*b)
		}
		// At the same time, what the run's end left not-reached comes last.
		return out[i].Status != workflows.StatusNotReached && out[j].Status == workflows.StatusNotReached
	})
	return out
}

// transitionAt is when entry s took its state, from the workflow's times:
// a compensation's when it started or ended; a running or waiting
// entry's, its start; an ended one's, its end (a step ended by the run's
// end without one, the run's end); pending, the run's start;
// not-reached, the run's end.
func transitionAt(st *workflows.Status, s workflows.StepState) *time.Time {
	runStart := st.StartedAt
	switch {
	case s.CompensationEndedAt != nil:
		return s.CompensationEndedAt
	case s.CompensationStartedAt != nil:
		return s.CompensationStartedAt
	case s.Status == workflows.StatusCompensated && st.EndedAt != nil: // a run from before compensation times
		return st.EndedAt
	}
	switch s.Status {
	case workflows.StatusPending:
		if s.StartedAt != nil {
			return s.StartedAt
		}
		return &runStart
	case workflows.StatusRunning, workflows.StatusWaitingApproval, workflows.StatusWaitingEvent:
		if s.StartedAt != nil {
			return s.StartedAt
		}
		return &runStart
	case workflows.StatusNotReached:
		if st.EndedAt != nil {
			return st.EndedAt
		}
	}
	if s.EndedAt != nil {
		return s.EndedAt
	}
	if st.EndedAt != nil {
		return st.EndedAt
	}
	return s.StartedAt
}

// streamStatus is the run's whole status: from the records when the run
// ended and they hold its final timeline, else from Temporal (stale while
// its worker is slow to answer: viewStatus).
func (a *API) streamStatus(ctx context.Context, r *store.Run) (*workflows.Status, error) {
	if rec, err := a.Store.Run(r.ID); err == nil && workflows.Ended(rec.Status) && rec.Recorded > 0 {
		steps := a.recordedSteps(rec.ID)
		settleSteps(steps)
		var outputs map[string]any
		_ = json.Unmarshal(rec.Outputs, &outputs)
		return &workflows.Status{RunID: rec.ID, Runbook: rec.Runbook, Status: rec.Status, StartedAt: rec.CreatedAt.UTC(), EndedAt: utc(rec.EndedAt),
			Steps: steps, StepsTotal: len(steps), Outputs: outputs, Error: rec.Error, ErrorType: rec.ErrorType, FailedStep: rec.FailedStep,
			Handovers: rec.Handovers}, nil
	}
	st, _, err := a.viewStatus(ctx, r.ID, r, nil)
	if err == nil && workflows.Ended(st.Status) {
		_ = a.recordEnd(r, st) // the first view that finds the run ended records it
	}
	return st, err
}

// streamEvents sends a run's step transitions as server-sent events:
// "line" events with the lines steps print (as GET .../logs has them),
// "step" events with the step's state, then one "run" event when it ends.
// Streams are bounded per token and in total (429), and a reader that
// does not take an event within the write timeout is dropped.
func (a *API) streamEvents(c echo.Context) error {
	r, err := a.Store.Run(c.Param("id"))
	if err != nil {
		return notFoundOr(err, "no run "+c.Param("id"))
	}
	send, release, err := a.openStream(c)
	if err != nil {
		return err
	}
	defer release()
	ctx := c.Request().Context()
	seen := map[string]string{}
	lines := store.LogQuery{RunID: r.ID, Limit: MaxLogLimit}
	for {
		st, err := a.streamStatus(ctx, r)
		if err != nil {
			return send("error", Problem{Error: "the run's status is not available: " + err.Error(), Details: []any{}})
		}
		// The lines printed so far, then the transitions: a step's lines
		// come before the event that says it ended.
		if _, err := a.sendLines(ctx, send, &lines); err != nil {
			return nil
		}
		for _, ev := range transitions(st, seen) {
			if err := send("step", ev); err != nil {
				return nil // the client went away
			}
		}
		if workflows.Ended(st.Status) {
			end := *st
			end.Steps = nil
			return send("run", end)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(StreamEvery):
		}
	}
}

// openStream starts a server-sent event stream, bounded per token (or
// console session) and in
// total (429 past them): send writes one event, and fails once the reader
// has not taken it within the write timeout; release frees the slot.
func (a *API) openStream(c echo.Context) (send func(event string, v any) error, release func(), err error) {
	limits := a.Streams.withDefaults()
	release, err = a.streams.acquire(limits, streamCallerOf(identity(c)))
	if err != nil {
		return nil, nil, err
	}
	w := c.Response()
	rc := http.NewResponseController(w)
	w.Header().Set(echo.HeaderContentType, "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	// The reader has its answer before the first event, which may be a
	// while away (a follow of lines waits for the next one).
	if err := rc.Flush(); err != nil {
		release()
		return nil, nil, err
	}
	send = func(event string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		// A write the reader does not take in time fails, and the
		// stream ends: the server buffers no more than the socket does.
		if err := rc.SetWriteDeadline(time.Now().Add(limits.WriteTimeout)); err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return err
		}
		return rc.Flush()
	}
	return send, release, nil
}
