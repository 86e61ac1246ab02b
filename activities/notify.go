package activities

import "github.com/opsrunbook/runbook/runbooks"

// NotifySpec posts a message to a chat or webhook endpoint.
var NotifySpec = &runbooks.ActionSpec{
	Name:        "notify",
	Description: "Post a message to a Slack-compatible incoming webhook, or as plain JSON to any URL.",
	Inputs: []runbooks.Field{
		{Name: "url", Type: runbooks.StringType, Required: true, Description: "Webhook URL; usually ${{ secrets.NAME }}."},
		{Name: "text", Type: runbooks.StringType, Required: true, Description: "Message text."},
		{Name: "format", Type: runbooks.StringType, Default: "slack", Enum: []string{"slack", "json"}, Description: `slack sends {"text": ...}; json sends {"text", "runbook", "run", "data"}.`},
		{Name: "data", Type: runbooks.AnyType, Description: "Extra JSON sent with format json."},
	},
	Outputs: []runbooks.Field{
		{Name: "status", Type: runbooks.IntType, Description: "The webhook's response status."},
	},
}
