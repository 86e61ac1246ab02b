package server

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/opsrunbook/runbook/plan"
)

// queryNames are the names of a route's documented query parameters
// (queryParam's, or the same shape), in their order.
func queryNames(params []any) []string {
	var names []string
	for _, p := range params {
		if m, ok := p.(map[string]any); ok {
			if n, ok := m["name"].(string); ok {
				names = append(names, n)
			}
		}
	}
	return names
}

// queryProblems are the details of a 400 for the parameters of q a route
// does not know and those given more than once, in name order, so that a
// misspelt filter is refused rather than ignored.
func queryProblems(q url.Values, known []string) []any {
	var bad []any
	for _, k := range plan.SortedKeys(q) {
		switch {
		case !slices.Contains(known, k) && len(known) == 0:
			bad = append(bad, k+": unknown parameter")
		case !slices.Contains(known, k):
			bad = append(bad, fmt.Sprintf("%s: unknown parameter (parameters: %s)", k, strings.Join(known, ", ")))
		case len(q[k]) > 1:
			bad = append(bad, k+": given more than once")
		}
	}
	return bad
}

// routeQuery is the query parameters a route takes, as /openapi.json
// documents them; checked says the handler checks them itself (with the
// values, all problems at once).
func routeQuery(method, path string) (params []any, checked bool) {
	if method != "GET" {
		return nil, false
	}
	switch {
	case path == "/api/v1/runs/:id":
		return stepsQuery, false
	case path == "/api/v1/runs/:id/report":
		return []any{queryParam("format", "string", "json (default) or markdown")}, false
	case path == "/api/v1/runbooks/:name/diff":
		return diffQuery, false
	case strings.HasSuffix(path, "/logs"):
		return logsQuery, true
	case path == "/api/v1/runs":
		return runsQuery(), false
	case path == "/api/v1/audit":
		return auditQuery, true
	case path == "/api/v1/incidents":
		return incidentsQuery, true
	case path == "/api/v1/incidents/stats":
		return incidentStatsQuery, true
	case path == "/api/v1/incidents/:id/timeline":
		return []any{queryParam("format", "string", "json (default) or markdown")}, false
	case path == "/api/v1/runbooks/:name":
		return []any{queryParam("version", "integer", "the version to get (default: the latest)")}, false
	case path == "/api/v1/approvals":
		return []any{queryParam("mine", "boolean", "true: only the approvals the caller may vote on and the decisions it may take")}, false
	case path == "/api/v1/freezes":
		return []any{queryParam("runbook", "string", "only the freezes that hold this runbook back")}, false
	case path == "/api/v1/tokens":
		return []any{queryParam("user", "string", "the tokens of this user")}, false
	}
	return nil, false
}

// knownQuery refuses a request to /api/ with a query parameter its route
// does not take, or one given twice: a misspelt filter (?stauts=failed)
// would otherwise answer as if there were none. Probes, metrics and hooks
// keep taking what their callers add.
func knownQuery(method, path string) echo.MiddlewareFunc {
	params, checked := routeQuery(method, path)
	known := queryNames(params)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if checked || !strings.HasPrefix(path, "/api/") || c.Request().URL.RawQuery == "" {
				return next(c)
			}
			if bad := queryProblems(c.QueryParams(), known); len(bad) > 0 {
				msg := "unknown query parameter"
				if len(known) == 0 {
					msg = path + " takes no query parameters"
				}
				return problem(http.StatusBadRequest, msg, bad...)
			}
			return next(c)
		}
	}
}

// timeRange reads the query's since and until (RFC 3339, kept in UTC)
// into since and until, and returns a problem for each bad one, and for a
// since not before until.
func timeRange(q url.Values, since, until *time.Time) []any {
	var bad []any
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"since", since}, {"until", until}} {
		if s := q.Get(t.name); s != "" {
			v, err := time.Parse(time.RFC3339, s)
			if err != nil {
				bad = append(bad, fmt.Sprintf("%s: %q is not an RFC 3339 time (e.g. 2026-01-02T15:04:05Z)", t.name, s))
			}
			*t.dst = v.UTC()
		}
	}
	if !since.IsZero() && !until.IsZero() && !since.Before(*until) {
		bad = append(bad, "since: must be before until")
	}
	return bad
}
