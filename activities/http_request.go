package activities

import "github.com/opsrunbook/runbook/runbooks"

// HTTPRequestSpec sends one HTTP request.
var HTTPRequestSpec = &runbooks.ActionSpec{
	Name:        "http.request",
	Description: "Send an HTTP request; fails unless the status is expected.",
	Inputs: []runbooks.Field{
		{Name: "url", Type: runbooks.StringType, Required: true, Description: "Absolute http or https URL."},
		{Name: "method", Type: runbooks.StringType, Default: "GET", Enum: []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}, Description: "HTTP method."},
		{Name: "headers", Type: runbooks.MapOf(runbooks.StringType), Description: "Request headers."},
		{Name: "json", Type: runbooks.AnyType, Description: "Body sent as JSON (sets Content-Type)."},
		{Name: "body", Type: runbooks.StringType, Description: "Raw body text."},
		{Name: "expectStatus", Type: runbooks.ListOf(runbooks.IntType), Description: "Statuses that count as success; default any 2xx."},
	},
	Outputs: []runbooks.Field{
		{Name: "status", Type: runbooks.IntType, Description: "Response status code."},
		{Name: "body", Type: runbooks.StringType, Description: "Response body (the first 1 MiB)."},
		{Name: "json", Type: runbooks.AnyType, Description: "The body parsed as JSON when it is JSON, else null."},
		{Name: "headers", Type: runbooks.MapOf(runbooks.StringType), Description: "Response headers, first value of each."},
	},
	AtMostOne: [][]string{{"json", "body"}},
}
