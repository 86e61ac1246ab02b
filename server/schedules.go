package server

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/opsrunbook/runbook/plan"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/opsrunbook/runbook/workflows"
)

// Overlap policies by the format's names.
var overlapPolicies = map[plan.Overlap]enumspb.ScheduleOverlapPolicy{
	plan.OverlapSkip:           enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
	plan.OverlapBufferOne:      enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE,
	plan.OverlapBufferAll:      enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ALL,
	plan.OverlapCancelOther:    enumspb.SCHEDULE_OVERLAP_POLICY_CANCEL_OTHER,
	plan.OverlapTerminateOther: enumspb.SCHEDULE_OVERLAP_POLICY_TERMINATE_OTHER,
	plan.OverlapAllowAll:       enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL,
}

// ScheduleID is the Temporal schedule id of one of a runbook's schedules.
func ScheduleID(runbook, schedule string) string { return "runbook:" + runbook + ":" + schedule }

// Scheduler keeps Temporal Schedules in step with runbooks' spec.schedules.
// Firing is then Temporal's job: durable, and never doubled by several API
// replicas. Each fire starts workflows.ScheduleLauncher, which starts the
// run under a run id of the API's form (Temporal names the workflow a
// schedule starts itself).
type Scheduler struct {
	Client    client.Client
	TaskQueue string
}

// Reconcile creates, updates and deletes the Temporal schedules of a
// runbook version: each of the plan's schedules starts that version with
// its params, and with the API's settings (the vote key its runs verify
// votes with, the history budget), as every run the API starts; previous
// names the plan no longer has are deleted.
func (s *Scheduler) Reconcile(ctx context.Context, p *plan.Plan, version int, settings RunSettings, previous []string) error {
	for _, sc := range p.Schedules {
		if err := s.upsert(ctx, p, version, settings, sc); err != nil {
			return fmt.Errorf("schedule %s of %s: %w", sc.Name, p.Name, err)
		}
	}
	for _, name := range previous {
		if slices.ContainsFunc(p.Schedules, func(sc plan.Schedule) bool { return sc.Name == name }) {
			continue
		}
		err := s.Client.ScheduleClient().GetHandle(ctx, ScheduleID(p.Name, name)).Delete(ctx)
		var nf *serviceerror.NotFound
		if err != nil && !errors.As(err, &nf) {
			return fmt.Errorf("delete schedule %s of %s: %w", name, p.Name, err)
		}
	}
	return nil
}

func (s *Scheduler) upsert(ctx context.Context, p *plan.Plan, version int, settings RunSettings, sc plan.Schedule) error {
	params, err := p.BindParams(sc.Params)
	if err != nil {
		return err
	}
	in, err := settings.Input(p, version, params, plan.RunTriggerSchedule, sc.Name, SystemSchedule, nil)
	if err != nil {
		return err
	}
	overlap, ok := overlapPolicies[sc.Overlap]
	if !ok {
		return fmt.Errorf("unknown overlap %q", sc.Overlap)
	}
	id := ScheduleID(p.Name, sc.Name)
	spec := client.ScheduleSpec{CronExpressions: []string{sc.Cron}, TimeZoneName: sc.Timezone}
	action := &client.ScheduleWorkflowAction{
		ID:        p.Name + "-" + sc.Name,
		Workflow:  workflows.LauncherName,
		TaskQueue: s.TaskQueue,
		Args:      []any{in},
	}
	h := s.Client.ScheduleClient().GetHandle(ctx, id)
	desc, err := h.Describe(ctx)
	var nf *serviceerror.NotFound
	switch {
	case errors.As(err, &nf):
		_, err = s.Client.ScheduleClient().Create(ctx, client.ScheduleOptions{
			ID: id, Spec: spec, Action: action, Overlap: overlap, CatchupWindow: sc.CatchupWindow.D, Paused: sc.Paused,
		})
		return err
	case err != nil:
		return err
	}
	err = h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
		sched := in.Description.Schedule
		sched.Spec = &spec
		sched.Action = action
		sched.Policy.Overlap = overlap
		sched.Policy.CatchupWindow = sc.CatchupWindow.D
		return &client.ScheduleUpdate{Schedule: &sched}, nil
	}})
	if err != nil {
		return err
	}
	switch paused := desc.Schedule.State.Paused; {
	case sc.Paused && !paused:
		return h.Pause(ctx, client.SchedulePauseOptions{Note: "paused in the runbook"})
	case !sc.Paused && paused:
		return h.Unpause(ctx, client.ScheduleUnpauseOptions{Note: "unpaused in the runbook"})
	}
	return nil
}

// Refresh gives the schedules of a runbook version the input settings
// make now (their blackouts), touching nothing else: not their spec, and
// not a pause made through the API.
func (s *Scheduler) Refresh(ctx context.Context, p *plan.Plan, version int, settings RunSettings) error {
	for _, sc := range p.Schedules {
		params, err := p.BindParams(sc.Params)
		if err != nil {
			return err
		}
		in, err := settings.Input(p, version, params, plan.RunTriggerSchedule, sc.Name, SystemSchedule, nil)
		if err != nil {
			return err
		}
		h := s.Client.ScheduleClient().GetHandle(ctx, ScheduleID(p.Name, sc.Name))
		err = h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(u client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			sched := u.Description.Schedule
			action, ok := sched.Action.(*client.ScheduleWorkflowAction)
			if !ok {
				return nil, fmt.Errorf("schedule %s of %s: not a workflow action", sc.Name, p.Name)
			}
			action.Args = []any{in}
			return &client.ScheduleUpdate{Schedule: &sched}, nil
		}})
		var nf *serviceerror.NotFound
		if err != nil && !errors.As(err, &nf) {
			return fmt.Errorf("schedule %s of %s: %w", sc.Name, p.Name, err)
		}
	}
	return nil
}

// moveToLauncher moves a schedule made before launchers, whose action starts
// RunbookWorkflow itself, to the launcher with the same input; d is its
// description. Runs it started keep their ids.
func moveToLauncher(ctx context.Context, h client.ScheduleHandle, d *client.ScheduleDescription) error {
	if a, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction); !ok || a.Workflow != workflows.WorkflowName {
		return nil
	}
	return h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
		sched := in.Description.Schedule
		a, ok := sched.Action.(*client.ScheduleWorkflowAction)
		if !ok || a.Workflow != workflows.WorkflowName {
			return nil, temporal.ErrSkipScheduleUpdate
		}
		a.Workflow = workflows.LauncherName
		return &client.ScheduleUpdate{Schedule: &sched}, nil
	}})
}
