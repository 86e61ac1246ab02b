package devserver

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/server/common/dynamicconfig"
)

// Setting is one value of Temporal's dynamic config this package sets over
// the server's defaults, and why.
type Setting struct {
	Key   string
	Value any
	Why   string
}

// Settings are the embedded server's dynamic config; docs/operations.md
// lists them (SettingsMarkdown; a test holds the two together).
var Settings = []Setting{
	{"system.forceSearchAttributesCacheRefreshOnRead", true,
		"a search attribute registered at start is usable at once, as in Temporal's own test server"},
	{"matching.numTaskqueueReadPartitions", 1,
		"one partition per task queue, as the Temporal CLI's dev server sets it: on a single host more partitions only add forwarding delays"},
	{"matching.numTaskqueueWritePartitions", 1, "the same, for writes"},
	{"history.transferProcessorMaxPollRPS", 1000,
		"a history shard reads its transfer tasks (an activity or workflow task to hand to a worker) at most 20 times a second by default, a rate sized for clusters of hundreds of shards; on one shard it is the whole server's, and each task waited up to 50 ms to be read: a 10-step runbook took 550 ms, 70 ms with this"},
	{"history.timerProcessorMaxPollRPS", 1000, "the same for timers: retry backoffs, timeouts, `sleep`"},
	{"history.visibilityProcessorMaxPollRPS", 1000, "the same for the list of runs Temporal keeps"},
	{"history.outboundProcessorMaxPollRPS", 1000, "the same for outbound calls"},
	{"history.longPollExpirationInterval", 200 * time.Millisecond,
		"a client waiting for a run's result long-polls its history; the server hands each waiter at most one pending notification and drops the next, so a waiter that has not yet taken one misses the run's close and learns of it only when its poll expires, 20 s by default (about one run in 200 once dispatch is fast); this bounds that wait"},
}

// SettingsMarkdown is the table of Settings docs/operations.md holds.
func SettingsMarkdown() string {
	var b strings.Builder
	b.WriteString("| setting | value | why |\n|---|---|---|\n")
	for _, s := range Settings {
		fmt.Fprintf(&b, "| `%s` | `%v` | %s |\n", s.Key, s.Value, s.Why)
	}
	return b.String()
}

// dynamicConfig is the server's dynamic config: Settings, then extra over
// them.
func dynamicConfig(extra map[string]any) dynamicconfig.StaticClient {
	dc := dynamicconfig.StaticClient{}
	for _, s := range Settings {
		dc[dynamicconfig.MakeKey(s.Key)] = []dynamicconfig.ConstrainedValue{{Value: s.Value}}
	}
	for k, v := range extra {
		dc[dynamicconfig.MakeKey(k)] = []dynamicconfig.ConstrainedValue{{Value: v}}
	}
	return dc
}
