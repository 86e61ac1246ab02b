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

// routeLimits says, for the OpenAPI document, what each route caps.
func routeLimits() map[string]string {
	params := fmt.Sprintf("a run's bound params at most %d bytes of JSON (413; for a hook, the match's error)", MaxParams)
	return map[string]string{
		"POST /api/v1/runs/:id/events/:name": fmt.Sprintf("payload at most %d bytes of JSON (413); at most %d events of one name held for steps not yet waiting (429, reason TooManyEvents); a name no waitFor step of the runbook waits for is 404 (reason UnknownEvent)",
			MaxEventPayload, workflows.MaxBufferedEvents),
		"POST /api/v1/runs/:id/approvals/:step":                   fmt.Sprintf("comment at most %d bytes, inputs at most %d bytes of JSON (413)", MaxComment, MaxVoteInputs),
		"POST /api/v1/runs/:id/steps/:step/decision":              fmt.Sprintf("comment at most %d bytes, outputs and inputs each at most %d bytes of JSON (413)", MaxComment, MaxVoteInputs),
		"POST /api/v1/runbooks/:name/runs":                        params,
		"POST /api/v1/runbooks/:name/schedules/:schedule/trigger": params,
		"POST /hooks/alertmanager":                                params,
		"POST /hooks/webhook/:name":                               params,
	}
}
