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

// Limit is one entry of /openapi.json's x-limits, the same shape at the
// top level (the API's limits) and on each operation (what that route
// caps): a value in a unit, and the status a request past it gets.
type Limit struct {
	Value       any    `json:"value"`            // a number, or a Go duration for unit "duration"
	Unit        string `json:"unit"`             // bytes, characters, count or duration
	Status      int    `json:"status,omitempty"` // none for a limit that refuses no request
	Description string `json:"description"`
}

func bytesLimit(n, status int, what string) Limit {
	return Limit{Value: n, Unit: "bytes", Status: status, Description: what}
}

// routeLimits says, for the OpenAPI document, what each route caps.
func routeLimits() map[string]map[string]Limit {
	params := map[string]Limit{"params": bytesLimit(MaxParams, http.StatusRequestEntityTooLarge, "a run's bound params, as JSON (for a hook, the match's error names the refusal)")}
	return map[string]map[string]Limit{
		"POST /api/v1/runs/:id/events/:name": {
			"payload":        bytesLimit(MaxEventPayload, http.StatusRequestEntityTooLarge, "the event's payload, as JSON"),
			"bufferedEvents": {Value: workflows.MaxBufferedEvents, Unit: "count", Status: http.StatusTooManyRequests, Description: "events of one name held for steps not yet waiting (reason TooManyEvents)"},
		},
		"POST /api/v1/runs/:id/approvals/:step": {
			"comment": bytesLimit(MaxComment, http.StatusRequestEntityTooLarge, "the vote's comment"),
			"inputs":  bytesLimit(MaxVoteInputs, http.StatusRequestEntityTooLarge, "the vote's inputs, as JSON"),
		},
		"POST /api/v1/runs/:id/steps/:step/decision": {
			"comment": bytesLimit(MaxComment, http.StatusRequestEntityTooLarge, "the decision's comment"),
			"outputs": bytesLimit(MaxVoteInputs, http.StatusRequestEntityTooLarge, "the outputs of a skip, as JSON"),
			"inputs":  bytesLimit(MaxVoteInputs, http.StatusRequestEntityTooLarge, "the inputs of a retry, as JSON"),
		},
		"POST /api/v1/runs/:id/rerun": {
			"reason": bytesLimit(MaxRerunReason, http.StatusUnprocessableEntity, "the rerun's reason"),
			"reuse":  bytesLimit(MaxRerunReuse, http.StatusRequestEntityTooLarge, "the recorded results a resume carries into the new run, gzipped JSON: resume from an earlier step"),
		},
		"POST /api/v1/runbooks/:name/runs":                        params,
		"POST /api/v1/runbooks/:name/schedules/:schedule/trigger": params,
		"POST /hooks/alertmanager":                                params,
		"POST /hooks/webhook/:name":                               params,
	}
}
