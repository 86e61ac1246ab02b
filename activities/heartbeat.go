package activities

import (
	"context"
	"time"

	"github.com/opsrunbook/runbook/plan"

	"go.temporal.io/sdk/activity"
)

// heartbeatEvery is how often actions whose spec says Heartbeats record
// a heartbeat; the interpreter gives them a heartbeat timeout of three
// times that.
var heartbeatEvery = 5 * time.Second

// recordHeartbeat is activity.RecordHeartbeat (tests count the calls).
var recordHeartbeat = activity.RecordHeartbeat

// withHeartbeat runs h with a heartbeat every heartbeatEvery for as long
// as it runs, whatever it is doing (connecting, waiting for a process,
// reading a dump). A worker that dies stops the heartbeats, which is how
// the interpreter tells a lost worker from a long action; heartbeats are
// also how a cancelled run's cancellation reaches the action.
func withHeartbeat(h Handler) Handler {
	return func(ctx context.Context, in plan.ActionInput) (plan.ActionOutput, error) {
		if !activity.IsActivity(ctx) {
			return h(ctx, in)
		}
		done := make(chan struct{})
		defer close(done)
		go func() {
			t := time.NewTicker(heartbeatEvery)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					recordHeartbeat(ctx)
				}
			}
		}()
		return h(ctx, in)
	}
}
