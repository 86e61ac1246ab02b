package activities

import (
	"context"
	"io"
	"strings"
	"time"

	"github.com/opsrunbook/runbook/plan"
)

// HTTPCheckSpec probes an HTTP endpoint. Unhealthy is an output, not a failure.
var HTTPCheckSpec = &plan.ActionSpec{
	Name:        "http.check",
	Errors:      errorTypes(),
	Description: "Probe an HTTP endpoint. An unhealthy answer is an output, not a failure, so repeat.until: outputs.healthy works.",
	Inputs: []plan.Field{
		{Name: "url", Type: plan.StringType, Required: true, Description: "Absolute http or https URL.", Role: plan.RoleURL},
		{Name: "method", Type: plan.StringType, Default: "GET", Enum: []string{"GET", "HEAD"}, Description: "HTTP method."},
		{Name: "headers", Type: plan.MapOf(plan.StringType), Description: "Request headers."},
		{Name: "expectStatus", Type: plan.ListOf(plan.IntType), Description: "Healthy statuses; default any 2xx."},
		{Name: "bodyContains", Type: plan.StringType, Description: "Text the body must contain to be healthy."},
		{Name: "timeout", Type: plan.DurationType, Default: "5s", Description: "Limit for one probe."},
	},
	Outputs: []plan.Field{
		{Name: "healthy", Type: plan.BoolType, Description: "Whether the endpoint answered as expected."},
		{Name: "status", Type: plan.IntType, Description: "Response status, 0 when there was none."},
		{Name: "latencyMs", Type: plan.IntType, Description: "Time to the response, in milliseconds."},
		{Name: "error", Type: plan.StringType, Description: "Why the probe was unhealthy, if it was."},
	},
}

var _ = register(HTTPCheckSpec, runHTTPCheck)

type httpCheckInput struct {
	URL          string            `json:"url"`
	Method       string            `json:"method"`
	Headers      map[string]string `json:"headers"`
	ExpectStatus []int             `json:"expectStatus"`
	BodyContains string            `json:"bodyContains"`
	Timeout      string            `json:"timeout"`
}

// runHTTPCheck runs the http.check action: one probe, whose failure is the
// healthy=false output rather than an error.
func runHTTPCheck(ctx context.Context, c call, hc httpCheckInput) (map[string]any, error) {
	timeout, err := plan.ParseDuration(hc.Timeout)
	if err != nil || timeout <= 0 {
		return nil, badInput("http.check: timeout %q: must be a positive duration", hc.Timeout)
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := newRequest(pctx, hc.Method, hc.URL, hc.Headers)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	out := map[string]any{"healthy": false, "status": int64(0), "latencyMs": int64(0), "error": ""}
	resp, err := c.client().Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		out["latencyMs"] = time.Since(start).Milliseconds()
		out["error"] = err.Error()
		return out, nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	out["latencyMs"] = time.Since(start).Milliseconds()
	out["status"] = int64(resp.StatusCode)
	switch {
	case !statusOK(resp.StatusCode, hc.ExpectStatus):
		out["error"] = "unexpected status " + resp.Status
	case hc.BodyContains != "" && !strings.Contains(string(body), hc.BodyContains):
		out["error"] = "body does not contain " + hc.BodyContains
	default:
		out["healthy"] = true
	}
	return out, nil
}
