package server

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/opsrunbook/runbook/store"
)

func describe(text string) map[string]any {
	return map[string]any{"description": text, "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Problem"}}}}
}

// limitResponses are the answers route's limits give, for the OpenAPI
// document (docs/operations.md, "Limits", says the same).
func limitResponses(r route) map[string]any {
	out := map[string]any{}
	switch r.path {
	case "/healthz", "/metrics", "/openapi.json":
		return out
	case "/readyz":
		out["503"] = describe("Not ready: the database or Temporal did not answer within 3s; details name which (never a DSN or a user)")
		return out
	}
	out["503"] = describe("The database did not answer within its query timeout, refused or lost the connection, or (SQLite) is locked by another writer; retry later")
	switch r.path {
	case "/api/v1/runs/:id/events":
		out["429"] = describe("Too many event streams: this token has as many open as it may (default 8), or the API serves its most (default 512)")
	case "/hooks/webhook/:name":
		out["401"] = describe("The signature is missing, malformed, wrong or stale")
		out["408"] = describe("The body did not arrive within the webhook read timeout (default 10s)")
		out["409"] = describe("A replay of a delivery received before")
	}
	switch r.path {
	case "/api/v1/runbooks/:name/runs", "/api/v1/runbooks/:name/schedules/:schedule/trigger", "/hooks/alertmanager", "/hooks/webhook/:name":
		out["422"] = describe("A value is longer than its column holds (x-limits, unit characters): details name each field, e.g. \"concurrencyKey: 301 characters, at most 300\"")
	}
	return out
}

// pastLimits names, sorted, the limits whose refusal is status.
func pastLimits(limits map[string]Limit, status int) string {
	var names []string
	for name, l := range limits {
		if l.Status == status {
			names = append(names, fmt.Sprintf("%s at most %v %s", name, l.Value, l.Unit))
		}
	}
	sort.Strings(names)
	return strings.Join(names, "; ")
}

// limitSchema describes Limit, the shape of every x-limits entry.
func limitSchema() map[string]any {
	return map[string]any{
		"type":        "object",
		"description": "One entry of x-limits (top level: the API's; on an operation: what that route caps). A request past it is answered status; a limit without status refuses no request (a slow stream reader is dropped).",
		"required":    []string{"value", "unit", "description"},
		"properties": map[string]any{
			"value":       map[string]any{"description": "A number; for unit duration, a Go duration such as 30s"},
			"unit":        map[string]any{"type": "string", "enum": []string{"bytes", "characters", "count", "duration"}},
			"status":      map[string]any{"type": "integer"},
			"description": map[string]any{"type": "string"},
		},
	}
}

// limitsDoc is the document's x-limits: the API's limits and the sizes
// of the columns values from requests land in.
func limitsDoc() map[string]Limit {
	dur := func(d time.Duration, status int, what string) Limit {
		return Limit{Value: d.String(), Unit: "duration", Status: status, Description: what}
	}
	count := func(n, status int, what string) Limit {
		return Limit{Value: n, Unit: "count", Status: status, Description: what}
	}
	column := func(n int, what string) Limit {
		return Limit{Value: n, Unit: "characters", Status: http.StatusUnprocessableEntity, Description: what}
	}
	return map[string]Limit{
		"requestTimeout":     dur(RequestTimeout, http.StatusServiceUnavailable, "a request's whole time"),
		"queryTimeout":       dur(store.DefaultQueryTimeout, http.StatusServiceUnavailable, "a database statement or transaction (RUNBOOK_DB_TIMEOUT)"),
		"readyTimeout":       dur(ReadyTimeout, http.StatusServiceUnavailable, "/readyz's checks of the database and Temporal"),
		"maxBody":            bytesLimit(MaxBody, http.StatusRequestEntityTooLarge, "a request body"),
		"streamsPerToken":    count(DefaultStreamsPerToken, http.StatusTooManyRequests, "open event streams of one token (or of one console session without a token)"),
		"streams":            count(DefaultStreams, http.StatusTooManyRequests, "open event streams of the API"),
		"streamWriteTimeout": dur(DefaultStreamWriteTimeout, 0, "a stream's write; a reader slower than that is dropped"),
		"webhookReadTimeout": dur(DefaultWebhookReadTimeout, http.StatusRequestTimeout, "a webhook delivery's body"),
		"runbookName":        column(store.Size(store.Run{}, "Runbook"), "a runbook's name"),
		"concurrencyKey":     column(store.Size(store.Run{}, "ConcurrencyKey"), "a run's concurrency key"),
		"alertFingerprint":   column(store.Size(store.Run{}, "TriggeredBy"), "an alert's fingerprint (the run's triggeredBy)"),
		"alertName":          column(store.Size(store.Run{}, "TriggerDetail"), "an alert's alertname (the run's triggerDetail)"),
		"tokenUser":          column(store.Size(store.Token{}, "User"), "a token's user"),
		"tokenGroups":        column(store.Size(store.Token{}, "Groups"), "a token's groups, comma-joined"),
		"webhookName":        column(store.Size(store.Delivery{}, "Hook"), "a webhook's name (the delivery's hook)"),
		"scheduleName":       column(store.Size(store.Schedule{}, "Name"), "a schedule's name"),
		"scheduleCron":       column(store.Size(store.Schedule{}, "Cron"), "a schedule's cron"),
		"deliveryId":         {Value: MaxDeliveryID, Unit: "characters", Status: http.StatusUnauthorized, Description: "a webhook delivery's id (X-Signature-256 id=)"},
	}
}
