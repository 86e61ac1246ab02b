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
