package server

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/opsrunbook/runbook/workflows"
)

// Limits on what a caller can put in a run's history: every one of these
// lands in a Temporal event, and Temporal ends a run at 50 MB of history.
// Beyond one the API answers 413.
const (
	MaxEventPayload = workflows.MaxEventPayload // an event's payload, as JSON
	MaxComment      = 4 << 10                   // a vote's comment
	MaxVoteInputs   = 64 << 10                  // an approval's inputs, as JSON
	MaxParams       = 256 << 10                 // a run's params, as JSON: from the API, an alert, a webhook or a schedule
)

// capJSON refuses v when its JSON passes limit bytes.
func capJSON(field string, v any, limit int) error {
	b, err := json.Marshal(v)
	if err != nil {
		return problem(http.StatusUnprocessableEntity, field+" is not JSON: "+err.Error())
	}
	return capSize(field, len(b), limit)
}

func capSize(field string, size, limit int) error {
	if size <= limit {
		return nil
	}
	return problem(http.StatusRequestEntityTooLarge, fmt.Sprintf("%s is %d bytes; at most %d", field, size, limit),
		map[string]any{"field": field, "size": size, "limit": limit})
}
