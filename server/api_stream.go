package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/workflows"
)

// StreamEvery is how often the event stream looks for step transitions.
const StreamEvery = 500 * time.Millisecond

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
		st, _, err := a.liveStatus(ctx, r.ID)
		if err != nil {
			return send("error", Problem{Error: "the run's status is not available: " + err.Error(), Details: []any{}})
		}
		// The lines printed so far, then the transitions: a step's lines
		// come before the event that says it ended.
		if _, err := a.sendLines(ctx, send, &lines); err != nil {
			return nil
		}
		for _, s := range st.Steps {
			key := s.ID
			if s.Item != nil {
				key = fmt.Sprintf("%s[%d]", s.ID, *s.Item)
			}
			if seen[key] == s.Status {
				continue
			}
			seen[key] = s.Status
			if err := send("step", s); err != nil {
				return nil // the client went away
			}
		}
		if st.Status != workflows.RunRunning {
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

// openStream starts a server-sent event stream, bounded per token and in
// total (429 past them): send writes one event, and fails once the reader
// has not taken it within the write timeout; release frees the slot.
func (a *API) openStream(c echo.Context) (send func(event string, v any) error, release func(), err error) {
	limits := a.Streams.withDefaults()
	release, err = a.streams.acquire(limits, identity(c).TokenID)
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
