// Package worker wires the runbook workflow and the actions into a
// Temporal worker.
package worker

import (
	"sync"
	"time"

	"github.com/opsrunbook/runbook/plan"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/workflows"
)

// TaskQueue is the task queue runs and their actions use.
const TaskQueue = "runbook"

// Options configure a worker.
type Options struct {
	// MaxConcurrentActions bounds actions running at once (default 100).
	MaxConcurrentActions int
	// MaxConcurrentRuns bounds workflow tasks processed at once (default 100).
	MaxConcurrentRuns int
	// StopTimeout is how long running actions get to finish on shutdown.
	StopTimeout time.Duration
	// Actions is what the actions need: secrets, an HTTP client.
	Actions *activities.Env
	// WorkflowCache is how many runs the process keeps in memory between
	// their workflow tasks (Temporal's sticky cache, shared by the
	// process's workers; the first New sets it): default
	// DefaultWorkflowCache. A run not kept is replayed from its history
	// at its next task (a vote, a query): a few milliseconds for a run
	// parked on an approval.
	WorkflowCache int
}

// DefaultWorkflowCache is the runs a worker process keeps in memory (a run
// parked on an approval is about 120 KB): with the SDK's own default
// (10,000) a worker held 10,000 parked runs in 1.3 GB (bench/approvals).
const DefaultWorkflowCache = 1000

var cacheOnce sync.Once

// New returns a worker on TaskQueue with the workflow and every action
// registered. Start it with Run or Start; Stop drains it. It makes the
// process non-dumpable first (on Linux), so the steps it runs cannot read
// its environment through /proc; it panics if that fails, as running
// steps beside readable secrets is not an option.
func New(c client.Client, opts Options) sdkworker.Worker {
	if err := protectProcess(); err != nil {
		panic("worker: cannot make the process non-dumpable: " + err.Error())
	}
	if opts.MaxConcurrentActions == 0 {
		opts.MaxConcurrentActions = 100
	}
	if opts.MaxConcurrentRuns == 0 {
		opts.MaxConcurrentRuns = 100
	}
	if opts.StopTimeout == 0 {
		opts.StopTimeout = 30 * time.Second
	}
	if opts.Actions == nil {
		opts.Actions = &activities.Env{Secrets: activities.EnvSecrets{}}
	}
	if opts.WorkflowCache == 0 {
		opts.WorkflowCache = DefaultWorkflowCache
	}
	cacheOnce.Do(func() { sdkworker.SetStickyWorkflowCacheSize(opts.WorkflowCache) })
	w := sdkworker.New(c, TaskQueue, sdkworker.Options{
		MaxConcurrentActivityExecutionSize:     opts.MaxConcurrentActions,
		MaxConcurrentWorkflowTaskExecutionSize: opts.MaxConcurrentRuns,
		WorkerStopTimeout:                      opts.StopTimeout,
	})
	Register(w, opts.Actions)
	return w
}

// Register registers the workflow, the launcher schedules start it with,
// the actions and the secrets check runs make before their first step on
// any registry (a worker, or a test environment).
func Register(r sdkworker.Registry, env *activities.Env) {
	r.RegisterWorkflowWithOptions(workflows.RunbookWorkflow, workflow.RegisterOptions{Name: workflows.WorkflowName})
	r.RegisterWorkflowWithOptions(workflows.ScheduleLauncher, workflow.RegisterOptions{Name: workflows.LauncherName})
	RegisterActions(r, env)
}

// RegisterActions registers the actions and the secrets check, as
// Register does, without the workflows: for a worker that runs actions
// only (sdkworker.Options.DisableWorkflowWorker).
func RegisterActions(r sdkworker.ActivityRegistry, env *activities.Env) {
	for name, h := range env.Handlers() {
		r.RegisterActivityWithOptions(activities.WithAttempt(h), activity.RegisterOptions{Name: name})
	}
	r.RegisterActivityWithOptions(env.CheckSecrets, activity.RegisterOptions{Name: plan.SecretsCheck})
}
