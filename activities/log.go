package activities

import (
	"context"

	"github.com/opsrunbook/runbook/plan"
)

// LogSpec writes a line into the run's timeline.
var LogSpec = &plan.ActionSpec{
	Name:        "log",
	Errors:      errorTypes(),
	Description: "Write a line into the run's timeline.",
	Inputs: []plan.Field{
		{Name: "message", Type: plan.StringType, Required: true, Description: "The line."},
		{Name: "level", Type: plan.StringType, Default: "info", Enum: []string{"info", "warn", "error"}, Description: "Severity."},
	},
	Outputs: []plan.Field{
		{Name: "message", Type: plan.StringType, Description: "The line as written."},
	},
	Local: true,
}

var _ = register(LogSpec, runLog)

type logInput struct {
	Message string `json:"message"`
	Level   string `json:"level"`
}

// runLog runs the log action: the line becomes the step's output, which the
// run's timeline shows, goes to the worker's log and to the step's log
// lines (stream "log").
func runLog(ctx context.Context, c call, li logInput) (map[string]any, error) {
	msg := c.log(ctx, li.Level, li.Message)
	lines := c.stepLog(ctx)
	logLine(lines, msg)
	lines.Close()
	return map[string]any{"message": msg}, nil
}
