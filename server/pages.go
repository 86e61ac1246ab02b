package server

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/opsrunbook/runbook/workflows"
)

// stepsQuery documents the query parameters that page a run's timeline.
var stepsQuery = []any{
	map[string]any{"name": "stepsOffset", "in": "query", "schema": map[string]any{"type": "integer", "minimum": 0},
		"description": "The first timeline entry to return (default 0)."},
	map[string]any{"name": "stepsLimit", "in": "query", "schema": map[string]any{"type": "integer", "minimum": 0, "maximum": workflows.MaxStepsLimit},
		"description": fmt.Sprintf("How many timeline entries to return (default %d, at most %d); stepsTotal in the answer is the whole timeline's length.", workflows.DefaultStepsLimit, workflows.MaxStepsLimit)},
}

// stepsPage reads the page of the timeline a request asks for.
func stepsPage(c echo.Context) (workflows.StatusPage, error) {
	var page workflows.StatusPage
	for name, dst := range map[string]*int{"stepsOffset": &page.Offset, "stepsLimit": &page.Limit} {
		if s := c.QueryParam(name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				return page, problem(http.StatusBadRequest, name+" must be a whole number, 0 or more")
			}
			*dst = n
		}
	}
	if page.Limit > workflows.MaxStepsLimit {
		return page, problem(http.StatusBadRequest, fmt.Sprintf("stepsLimit must be at most %d", workflows.MaxStepsLimit))
	}
	return page, nil
}

// runsQuery documents the query parameters of GET /api/v1/runs.
func runsQuery() []any {
	str := map[string]any{"type": "string"}
	at := map[string]any{"type": "string", "format": "date-time"}
	return []any{
		map[string]any{"name": "runbook", "in": "query", "schema": str, "description": "Runs of this runbook."},
		map[string]any{"name": "status", "in": "query", "schema": map[string]any{"type": "string", "enum": workflows.RunStatuses},
			"description": "Runs with this status; another value is 400 with the valid statuses as details."},
		map[string]any{"name": "trigger", "in": "query", "schema": str, "description": "Runs started by this trigger (api, schedule, alert, webhook, parent)."},
		map[string]any{"name": "since", "in": "query", "schema": at, "description": "Runs started at or after this RFC 3339 time; not one is 400."},
		map[string]any{"name": "until", "in": "query", "schema": at, "description": "Runs started before this RFC 3339 time; not one, or not after since, is 400."},
		map[string]any{"name": "limit", "in": "query", "schema": map[string]any{"type": "integer", "minimum": 1, "maximum": MaxRunsLimit, "default": DefaultRunsLimit},
			"description": fmt.Sprintf("Runs a page holds (default %d, at most %d; another value is 400).", DefaultRunsLimit, MaxRunsLimit)},
		map[string]any{"name": "cursor", "in": "query", "schema": str, "description": "The next of the previous page."},
	}
}
