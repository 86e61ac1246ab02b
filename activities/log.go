package activities

import "github.com/opsrunbook/runbook/runbooks"

// LogSpec writes a line into the run's timeline.
var LogSpec = &runbooks.ActionSpec{
	Name:        "log",
	Description: "Write a line into the run's timeline.",
	Inputs: []runbooks.Field{
		{Name: "message", Type: runbooks.StringType, Required: true, Description: "The line."},
		{Name: "level", Type: runbooks.StringType, Default: "info", Enum: []string{"info", "warn", "error"}, Description: "Severity."},
	},
	Outputs: []runbooks.Field{
		{Name: "message", Type: runbooks.StringType, Description: "The line as written."},
	},
}
