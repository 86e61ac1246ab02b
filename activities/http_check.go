package activities

import "github.com/opsrunbook/runbook/runbooks"

// HTTPCheckSpec probes an HTTP endpoint. Unhealthy is an output, not a failure.
var HTTPCheckSpec = &runbooks.ActionSpec{
	Name:        "http.check",
	Description: "Probe an HTTP endpoint. An unhealthy answer is an output, not a failure, so repeat.until: outputs.healthy works.",
	Inputs: []runbooks.Field{
		{Name: "url", Type: runbooks.StringType, Required: true, Description: "Absolute http or https URL."},
		{Name: "method", Type: runbooks.StringType, Default: "GET", Enum: []string{"GET", "HEAD"}, Description: "HTTP method."},
		{Name: "headers", Type: runbooks.MapOf(runbooks.StringType), Description: "Request headers."},
		{Name: "expectStatus", Type: runbooks.ListOf(runbooks.IntType), Description: "Healthy statuses; default any 2xx."},
		{Name: "bodyContains", Type: runbooks.StringType, Description: "Text the body must contain to be healthy."},
		{Name: "timeout", Type: runbooks.DurationType, Default: "5s", Description: "Limit for one probe."},
	},
	Outputs: []runbooks.Field{
		{Name: "healthy", Type: runbooks.BoolType, Description: "Whether the endpoint answered as expected."},
		{Name: "status", Type: runbooks.IntType, Description: "Response status, 0 when there was none."},
		{Name: "latencyMs", Type: runbooks.IntType, Description: "Time to the response, in milliseconds."},
		{Name: "error", Type: runbooks.StringType, Description: "Why the probe was unhealthy, if it was."},
	},
}
