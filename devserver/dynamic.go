package devserver

import (
	"time"

	"go.temporal.io/server/common/dynamicconfig"
)

// Dynamic is the dynamic config this package sets over Temporal's
// defaults, keyed by setting name. docs/operations.md lists it (a test
// holds the two together) for teams that run their own Temporal.
var Dynamic = map[string]any{
	dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key().String(): true,
	// One partition per task queue, as the CLI's dev server sets it: on a
	// single host, more partitions only add forwarding delays.
	dynamicconfig.MatchingNumTaskqueueReadPartitions.Key().String():  1,
	dynamicconfig.MatchingNumTaskqueueWritePartitions.Key().String(): 1,
	// Each history shard reads its task queues at most 20 times a second
	// by default, sized for clusters of hundreds of shards. On one shard
	// that limit is the whole server's: every activity and workflow task
	// waited up to 50 ms for its transfer task to be read (a 10-step
	// runbook took 550 ms; 70 ms with this).
	dynamicconfig.TransferProcessorMaxPollRPS.Key().String():   1000,
	dynamicconfig.TimerProcessorMaxPollRPS.Key().String():      1000,
	dynamicconfig.VisibilityProcessorMaxPollRPS.Key().String(): 1000,
	dynamicconfig.OutboundProcessorMaxPollRPS.Key().String():   1000,
	// A history long poll (a client waiting for a run's result, an update
	// waiting for its outcome) ends at this interval with no answer, and
	// the client polls again. The server's history notifier hands each
	// waiter at most one pending notification and drops the rest, so a
	// waiter still holding a stale notification misses the run's close and
	// learns of it only when its poll times out: 20 s by default, about
	// one run in 200 once dispatch is fast. A short interval bounds that.
	dynamicconfig.HistoryLongPollExpirationInterval.Key().String(): 200 * time.Millisecond,
}

// dynamicConfig is the server's dynamic config: Dynamic, then extra over it.
func dynamicConfig(extra map[string]any) dynamicconfig.StaticClient {
	dc := dynamicconfig.StaticClient{}
	for _, m := range []map[string]any{Dynamic, extra} {
		for k, v := range m {
			dc[dynamicconfig.MakeKey(k)] = []dynamicconfig.ConstrainedValue{{Value: v}}
		}
	}
	return dc
}
