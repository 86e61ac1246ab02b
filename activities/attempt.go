package activities

import (
	"context"
	"errors"
	"reflect"

	"github.com/opsrunbook/runbook/plan"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
)

// WithAttempt reports which attempt produced an action's outputs, or its
// failure (as an AttemptDetail before the error's own first detail; its
// message, type and retryability stay, and a plain error gets the type
// Temporal would give it). Cancellations and timeouts pass as they are.
func WithAttempt(h Handler) Handler {
	return func(ctx context.Context, in plan.ActionInput) (plan.ActionOutput, error) {
		out, err := h(ctx, in)
		attempt := int(activity.GetInfo(ctx).Attempt)
		switch {
		case err == nil:
			out.Attempt = attempt
			return out, nil
		case ctx.Err() != nil || temporal.IsCanceledError(err) || errors.Is(err, activity.ErrResultPending) || errors.As(err, new(*temporal.TimeoutError)):
			return out, err
		}
		return out, withAttemptDetail(err, attempt)
	}
}

func withAttemptDetail(err error, attempt int) error {
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app != err {
		return temporal.NewApplicationErrorWithOptions(err.Error(), goErrType(err),
			temporal.ApplicationErrorOptions{Details: []any{plan.AttemptDetail{Attempt: attempt}}})
	}
	details := []any{plan.AttemptDetail{Attempt: attempt}}
	if app.HasDetails() {
		var d any
		if app.Details(&d) == nil {
			details = append(details, d)
		}
	}
	return temporal.NewApplicationErrorWithOptions(app.Message(), app.Type(), temporal.ApplicationErrorOptions{
		NonRetryable: app.NonRetryable(), Cause: app.Unwrap(), Details: details,
		NextRetryDelay: app.NextRetryDelay(), Category: app.Category(),
	})
}

// goErrType is the error type Temporal gives a plain error: its Go type's
// name, or "" for errors.New's.
func goErrType(err error) string {
	t := reflect.TypeOf(err)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Name() == "errorString" {
		return ""
	}
	return t.Name()
}
