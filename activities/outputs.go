package activities

import (
	"context"
	"encoding/json"
	"fmt"

	"go.temporal.io/sdk/temporal"

	"github.com/opsrunbook/runbook/plan"
)

// withOutputBound fails an action whose outputs pass plan.MaxOutputBytes
// of JSON, for good (the same inputs give the same outputs): outputs travel
// as the activity's result, in the run's timeline and its status query
// pages, and in every hand-over, each one payload Temporal refuses past
// 2 MB, where they would fail later and less clearly.
func withOutputBound(h Handler) Handler {
	return func(ctx context.Context, in plan.ActionInput) (plan.ActionOutput, error) {
		out, err := h(ctx, in)
		if err != nil {
			return out, err
		}
		b, err := json.Marshal(out.Outputs)
		if err != nil {
			return plan.ActionOutput{}, temporal.NewNonRetryableApplicationError("outputs are not JSON: "+err.Error(), plan.ErrBadOutput, nil)
		}
		if len(b) > plan.MaxOutputBytes {
			return plan.ActionOutput{}, outputTooLarge(len(b))
		}
		return out, nil
	}
}

func outputTooLarge(size int) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf("outputs are %d bytes of JSON; at most %d", size, plan.MaxOutputBytes), plan.ErrOutputTooLarge, nil)
}
