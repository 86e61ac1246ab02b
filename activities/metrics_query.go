package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/opsrunbook/runbook/plan"

	"go.temporal.io/sdk/temporal"
)

// MetricsQuerySpec queries Prometheus.
var MetricsQuerySpec = &plan.ActionSpec{
	Name:        "metrics.query",
	Errors:      errorTypes(plan.ErrHTTPStatus, plan.ErrUnreachable),
	Description: "Query a Prometheus-compatible HTTP API: an instant query, or a range query with range and step. The first series' points are also given as values, ready for capacity.forecast.",
	Heartbeats:  true,
	Inputs: []plan.Field{
		{Name: "url", Type: plan.StringType, Required: true, Description: "Base URL of the Prometheus server, e.g. http://prometheus:9090.", Role: plan.RoleURL},
		{Name: "query", Type: plan.StringType, Required: true, Description: "PromQL."},
		{Name: "range", Type: plan.DurationType, Description: "Query the last range (a range query) instead of now (an instant query)."},
		{Name: "step", Type: plan.DurationType, Default: "1h", Description: "Resolution of a range query."},
		{Name: "headers", Type: plan.MapOf(plan.StringType), Description: "Request headers, e.g. Authorization."},
	},
	Outputs: []plan.Field{
		{Name: "resultType", Type: plan.StringType, Description: "vector, matrix, scalar or string."},
		{Name: "series", Type: plan.ListOf(plan.AnyType), Description: "The result as Prometheus gives it: metric labels with value or values."},
		{Name: "values", Type: plan.ListOf(plan.AnyType), Description: "The first series' points as [unixSeconds, number] pairs."},
		{Name: "value", Type: plan.NumberType, Description: "The first series' latest value (0 when empty)."},
	},
}

var _ = register(MetricsQuerySpec, runMetricsQuery)

type metricsQueryInput struct {
	URL     string            `json:"url"`
	Query   string            `json:"query"`
	Range   string            `json:"range"`
	Step    string            `json:"step"`
	Headers map[string]string `json:"headers"`
}

// runMetricsQuery runs the metrics.query action.
func runMetricsQuery(ctx context.Context, c call, mi metricsQueryInput) (map[string]any, error) {
	q := url.Values{"query": {mi.Query}}
	endpoint := "/api/v1/query"
	if mi.Range != "" {
		r, err := plan.ParseDuration(mi.Range)
		step, serr := plan.ParseDuration(mi.Step)
		if err != nil || serr != nil || r <= 0 || step <= 0 {
			return nil, badInput("metrics.query: range %q and step %q must be positive durations", mi.Range, mi.Step)
		}
		end := time.Now()
		endpoint = "/api/v1/query_range"
		q.Set("start", strconv.FormatInt(end.Add(-r).Unix(), 10))
		q.Set("end", strconv.FormatInt(end.Unix(), 10))
		q.Set("step", strconv.FormatFloat(step.Seconds(), 'f', -1, 64))
	}
	req, err := newRequest(ctx, http.MethodGet, strings.TrimRight(mi.URL, "/")+endpoint+"?"+q.Encode(), mi.Headers)
	if err != nil {
		return nil, err
	}
	resp, err := c.client().Do(req)
	if err != nil {
		return nil, unreachable(ctx, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16*MaxBody))
	if err != nil {
		return nil, unreachable(ctx, err)
	}
	var pr struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &pr); err != nil || pr.Status != "success" {
		msg := fmt.Sprintf("metrics.query: %s answered %s", redactURL(req.URL), resp.Status)
		if pr.Error != "" {
			msg += ": " + pr.Error
		}
		return nil, temporal.NewApplicationErrorWithOptions(msg, plan.ErrHTTPStatus,
			temporal.ApplicationErrorOptions{NonRetryable: resp.StatusCode >= 400 && resp.StatusCode < 500})
	}
	out := map[string]any{"resultType": pr.Data.ResultType, "series": []any{}, "values": []any{}, "value": 0.0}
	var series []map[string]any
	var scalar []any // a scalar result is one [t, "v"] point
	if pr.Data.ResultType == "scalar" && json.Unmarshal(pr.Data.Result, &scalar) == nil {
		series = []map[string]any{{"metric": map[string]any{}, "value": scalar}}
	} else if json.Unmarshal(pr.Data.Result, &series) != nil {
		series = nil
	}
	if len(series) > 0 {
		all := make([]any, len(series))
		for i, s := range series {
			all[i] = s
		}
		out["series"] = all
		var points []any
		if v, ok := series[0]["value"].([]any); ok {
			points = []any{v}
		} else if vs, ok := series[0]["values"].([]any); ok {
			points = vs
		}
		out["values"] = numericPoints(points)
		if vals := out["values"].([]any); len(vals) > 0 {
			out["value"] = vals[len(vals)-1].([]any)[1]
		}
	}
	return out, nil
}

// numericPoints turns Prometheus' [t, "v"] points into [t, v] numbers.
func numericPoints(points []any) []any {
	out := []any{}
	for _, pt := range points {
		pair, ok := pt.([]any)
		if !ok || len(pair) != 2 {
			continue
		}
		v, err := number(pair[1])
		if err != nil {
			continue
		}
		out = append(out, []any{pair[0], v})
	}
	return out
}
