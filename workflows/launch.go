package workflows

import (
	"crypto/sha256"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/opsrunbook/runbook/plan"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// LauncherName is the workflow a runbook's Temporal schedule starts.
const LauncherName = "ScheduleLauncher"

// ScheduleLauncher starts one fire of a schedule: the run itself, as its
// child, under a run id of the same form as the API's. A schedule cannot
// choose the id of the workflow it starts (Temporal appends the fire time
// to a fixed one), so the launcher takes that id and the run gets its own.
//
// The id is time-ordered by the fire's time and its entropy is hashed
// from the launcher's run id, which Temporal makes unique: both are in
// the launcher's start event, so the same on every replay. The
// launcher waits for the run, so the schedule's overlap policy applies to
// it; cancelling the launcher cancels the run and waits for its cleanup,
// and terminating the launcher terminates the run.
func ScheduleLauncher(ctx workflow.Context, in RunInput) (*RunResult, error) {
	if in.Plan == nil {
		return nil, temporal.NewNonRetryableApplicationError("the schedule's input has no plan", ErrBadPlan, nil)
	}
	info := workflow.GetInfo(ctx)
	fire := fireTime(ctx, info)
	// Only a fire with blackouts marks the history, so older ones replay.
	if b, frozen := plan.BlackoutAt(in.Blackouts, in.Plan.Name, fire); frozen && workflow.GetVersion(ctx, freezeSkipVersion, workflow.DefaultVersion, 1) >= 1 {
		return &RunResult{Status: RunSkipped, Skipped: &Skip{Freeze: b.Freeze, Reason: b.Reason, Fire: fire, Until: b.To}}, nil
	}
	sum := sha256.Sum256([]byte(info.WorkflowExecution.RunID))
	id := RunID(in.Plan.Name, fire, [10]byte(sum[:10]))
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:          id,
		ParentClosePolicy:   enumspb.PARENT_CLOSE_POLICY_TERMINATE,
		WaitForCancellation: true,
	})
	var res RunResult
	if err := workflow.ExecuteChildWorkflow(cctx, WorkflowName, in).Get(ctx, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// fireTime is the time the schedule fired for (Temporal's
// TemporalScheduledStartTime search attribute on what a schedule starts),
// or the launcher's start when something else started it.
func fireTime(ctx workflow.Context, info *workflow.Info) time.Time {
	if at, ok := workflow.GetTypedSearchAttributes(ctx).GetTime(scheduledStartTime); ok && !at.IsZero() {
		return at
	}
	return info.WorkflowStartTime
}

// freezeSkipVersion marks launchers that check freezes.
const freezeSkipVersion = "freeze-skip"

var scheduledStartTime = temporal.NewSearchAttributeKeyTime("TemporalScheduledStartTime")
