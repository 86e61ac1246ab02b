package server

import (
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
		out["422"] = describe("A value is longer than its column holds (x-limits.columns): details name each field, e.g. \"concurrencyKey: 301 characters, at most 300\"")
	}
	return out
}

// limitsDoc is the document's x-limits: the API's limits and the sizes
// of the columns values from requests land in.
func limitsDoc() map[string]any {
	return map[string]any{
		"requestTimeout":     RequestTimeout.String(),
		"queryTimeout":       store.DefaultQueryTimeout.String(),
		"readyTimeout":       ReadyTimeout.String(),
		"maxBody":            MaxBody,
		"streamsPerToken":    DefaultStreamsPerToken,
		"streams":            DefaultStreams,
		"streamWriteTimeout": DefaultStreamWriteTimeout.String(),
		"webhookReadTimeout": DefaultWebhookReadTimeout.String(),
		"columns": map[string]int{
			"runbook name":                    store.Size(store.Run{}, "Runbook"),
			"concurrency key":                 store.Size(store.Run{}, "ConcurrencyKey"),
			"alert fingerprint (triggeredBy)": store.Size(store.Run{}, "TriggeredBy"),
			"alert alertname (triggerDetail)": store.Size(store.Run{}, "TriggerDetail"),
			"token user":                      store.Size(store.Token{}, "User"),
			"token groups, comma-joined":      store.Size(store.Token{}, "Groups"),
			"webhook name (delivery hook)":    store.Size(store.Delivery{}, "Hook"),
			"schedule name":                   store.Size(store.Schedule{}, "Name"),
			"schedule cron":                   store.Size(store.Schedule{}, "Cron"),
		},
	}
}
