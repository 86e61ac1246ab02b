package activities

import (
	"context"

	"github.com/opsrunbook/runbook/plan"

	"go.temporal.io/sdk/activity"
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

type logInput struct {
	Message string `json:"message"`
	Level   string `json:"level"`
}

// Log runs the log action: the line becomes the step's output, which the
// run's timeline shows, and goes to the worker's log.
func (e *Env) Log(ctx context.Context, in plan.ActionInput) (plan.ActionOutput, error) {
	p, err := e.prepare(ctx, LogSpec, in)
	if err != nil {
		return plan.ActionOutput{}, err
	}
	var li logInput
	if err := p.decode(&li); err != nil {
		return plan.ActionOutput{}, err
	}
	msg := redact(ctx, li.Message) // before it is logged
	if activity.IsActivity(ctx) {
		logger := activity.GetLogger(ctx)
		kv := []any{"run", in.RunID, "step", in.StepID}
		switch li.Level {
		case "warn":
			logger.Warn(msg, kv...)
		case "error":
			logger.Error(msg, kv...)
		default:
			logger.Info(msg, kv...)
		}
	}
	return plan.ActionOutput{Outputs: map[string]any{"message": msg}}, nil
}
