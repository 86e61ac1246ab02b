package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/opsrunbook/runbook/plan"

	"go.temporal.io/sdk/temporal"
)

// HTTPRequestSpec sends one HTTP request.
var HTTPRequestSpec = &plan.ActionSpec{
	Name:        "http.request",
	Errors:      errorTypes(plan.ErrHTTPStatus, plan.ErrUnreachable),
	Description: "Send an HTTP request; fails unless the status is expected.",
	Heartbeats:  true,
	Inputs: []plan.Field{
		{Name: "url", Type: plan.StringType, Required: true, Description: "Absolute http or https URL.", Role: plan.RoleURL},
		{Name: "method", Type: plan.StringType, Default: "GET", Enum: []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}, Description: "HTTP method."},
		{Name: "headers", Type: plan.MapOf(plan.StringType), Description: "Request headers."},
		{Name: "json", Type: plan.AnyType, Description: "Body sent as JSON (sets Content-Type)."},
		{Name: "body", Type: plan.StringType, Description: "Raw body text."},
		{Name: "expectStatus", Type: plan.ListOf(plan.IntType), Description: "Statuses that count as success; default any 2xx."},
	},
	Outputs: []plan.Field{
		{Name: "status", Type: plan.IntType, Description: "Response status code."},
		{Name: "body", Type: plan.StringType, Description: "Response body (the first 1 MiB)."},
		{Name: "json", Type: plan.AnyType, Description: "The body parsed as JSON when it is JSON, else null."},
		{Name: "headers", Type: plan.MapOf(plan.StringType), Description: "Response headers, first value of each."},
	},
	AtMostOne: [][]string{{"json", "body"}},
}

var _ = register(HTTPRequestSpec, runHTTPRequest)

// MaxBody bounds the response body an HTTP action reads.
const MaxBody = 1 << 20

type httpRequestInput struct {
	URL          string            `json:"url"`
	Method       string            `json:"method"`
	Headers      map[string]string `json:"headers"`
	JSON         any               `json:"json"`
	Body         string            `json:"body"`
	ExpectStatus []int             `json:"expectStatus"`
}

// runHTTPRequest runs the http.request action. Statuses 5xx and 429 and
// network errors are retryable; other unexpected statuses are not.
func runHTTPRequest(ctx context.Context, c call, hi httpRequestInput) (map[string]any, error) {
	req, err := newRequest(ctx, hi.Method, hi.URL, hi.Headers)
	if err != nil {
		return nil, err
	}
	if hi.JSON != nil {
		b, err := json.Marshal(hi.JSON)
		if err != nil {
			return nil, badInput("http.request: json: %v", err)
		}
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
		if req.Header.Get("Content-Type") == "" {
			req.Header.Set("Content-Type", "application/json")
		}
	} else if hi.Body != "" {
		req.Body, req.ContentLength = io.NopCloser(strings.NewReader(hi.Body)), int64(len(hi.Body))
	}
	resp, err := c.client().Do(req)
	if err != nil {
		return nil, unreachable(ctx, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	if err != nil {
		return nil, unreachable(ctx, err)
	}
	out := map[string]any{"status": int64(resp.StatusCode), "body": string(body), "json": nil, "headers": firstValues(resp.Header)}
	var v any
	if json.Unmarshal(body, &v) == nil {
		out["json"] = v
	}
	if !statusOK(resp.StatusCode, hi.ExpectStatus) {
		msg := fmt.Sprintf("%s %s: status %d", req.Method, redactURL(req.URL), resp.StatusCode)
		opts := temporal.ApplicationErrorOptions{Details: []any{out},
			NonRetryable: resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests}
		return nil, temporal.NewApplicationErrorWithOptions(msg, plan.ErrHTTPStatus, opts)
	}
	return out, nil
}

func (e *Env) client() *http.Client {
	if e.HTTP != nil {
		return e.HTTP
	}
	return http.DefaultClient
}

// newRequest checks the URL and builds a request.
func newRequest(ctx context.Context, method, raw string, headers map[string]string) (*http.Request, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, badInput("url %q must be an absolute http or https URL", redactURLString(raw))
	}
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return nil, badInput("request: %v", err)
	}
	for _, k := range slices.Sorted(maps.Keys(headers)) {
		req.Header.Set(k, headers[k])
	}
	req.Header.Set("User-Agent", "runbook-engine")
	return req, nil
}

// statusOK reports whether status is expected: in the list, or 2xx.
func statusOK(status int, expect []int) bool {
	if len(expect) == 0 {
		return status >= 200 && status < 300
	}
	return slices.Contains(expect, status)
}

func firstValues(h http.Header) map[string]any {
	out := make(map[string]any, len(h))
	for k, v := range h {
		if len(v) > 0 {
			out[strings.ToLower(k)] = v[0]
		}
	}
	return out
}

// unreachable classifies a transport error: retryable, unless the run
// itself was cancelled.
func unreachable(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return temporal.NewApplicationError(err.Error(), plan.ErrUnreachable)
}

// redactURL hides a URL's user info and query, which often carry tokens.
func redactURL(u *url.URL) string {
	c := *u
	if c.User != nil {
		c.User = url.User("***")
	}
	if c.RawQuery != "" {
		c.RawQuery = "***"
	}
	return c.String()
}

func redactURLString(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return redactURL(u)
	}
	return "(unparseable)"
}
