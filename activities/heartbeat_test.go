package activities

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/plan"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
)

// An action marked Heartbeats heartbeats while it runs, even when it is
// blocked (here: a shell sleeping), so a lost worker shows in seconds.
func TestHeartbeatingActions(t *testing.T) {
	var beats atomic.Int32
	defer func(d time.Duration, r func(context.Context, ...any)) { heartbeatEvery, recordHeartbeat = d, r }(heartbeatEvery, recordHeartbeat)
	heartbeatEvery = 50 * time.Millisecond
	recordHeartbeat = func(ctx context.Context, details ...any) {
		beats.Add(1)
		activity.RecordHeartbeat(ctx, details...)
	}

	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	e := &Env{}
	h := e.Handlers()
	env.RegisterActivityWithOptions(h[ShellSpec.Name], activity.RegisterOptions{Name: ShellSpec.Name})
	env.RegisterActivityWithOptions(h[LogSpec.Name], activity.RegisterOptions{Name: LogSpec.Name})
	if _, err := env.ExecuteActivity(ShellSpec.Name, plan.ActionInput{Inputs: map[string]any{"command": []any{"sleep", "0.5"}}}); err != nil {
		t.Fatal(err)
	}
	if n := beats.Load(); n < 5 {
		t.Errorf("%d heartbeats in 0.5 s at one per 50 ms", n)
	}
	beats.Store(0)
	if _, err := env.ExecuteActivity(LogSpec.Name, plan.ActionInput{Inputs: map[string]any{"message": "hi"}}); err != nil {
		t.Fatal(err)
	}
	if n := beats.Load(); n != 0 || LogSpec.Heartbeats {
		t.Errorf("log heartbeats (%d)", n)
	}
	for name, spec := range Catalog() {
		if spec.Heartbeats && spec.Local {
			t.Errorf("%s is local and heartbeats: local activities have no heartbeat timeout", name)
		}
	}
}
