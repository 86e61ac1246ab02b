package server

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

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
		case !slices.Contains(known, k):
			bad = append(bad, fmt.Sprintf("%s: unknown parameter (parameters: %s)", k, strings.Join(known, ", ")))
		case len(q[k]) > 1:
			bad = append(bad, k+": given more than once")
		}
	}
	return bad
}
