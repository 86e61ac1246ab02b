package activities

import (
	"context"
	"io"

	"go.temporal.io/sdk/activity"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/steplog"
)

// itemOf is the forEach item of a call, -1 outside one.
func itemOf(in plan.ActionInput) int {
	if in.Item == nil {
		return -1
	}
	return *in.Item
}

// attemptOf is the step's attempt this call is: the attempts its earlier
// calls made (a repeat, a rerun after a lost worker) plus Temporal's
// attempt of this one.
func attemptOf(ctx context.Context, in plan.ActionInput) int {
	if activity.IsActivity(ctx) {
		return in.Attempts + int(activity.GetInfo(ctx).Attempt)
	}
	return in.Attempts + 1
}

// stepLog starts the buffer the call's lines go through to the worker's
// log sink; Close it before the call returns. A worker without a sink
// warns once and keeps only the tail.
func (c call) stepLog(ctx context.Context) *steplog.Buffer {
	key := steplog.Key{RunID: c.RunID, Step: c.StepID, Item: c.Item, Attempt: c.Attempt}
	warn := func(err error) {
		if activity.IsActivity(ctx) {
			activity.GetLogger(ctx).Warn("step log lines are not kept", "run", c.RunID, "step", c.StepID, "error", err)
		}
	}
	var sink steplog.Sink
	if c.Env != nil && c.RunID != "" { // not a run's step: a direct call
		sink = c.Logs
		if sink == nil && c.logWarned.CompareAndSwap(false, true) {
			warn(errNoLogSink)
		}
	}
	return steplog.NewBuffer(key, sink, warn)
}

type noLogSinkError struct{}

func (noLogSinkError) Error() string {
	return "this worker has no records database (runbook worker --db), so step logs keep only the tail a failed step's error carries"
}

var errNoLogSink error = noLogSinkError{}

// output tees a process's stdout and stderr: into w (the bounded outputs)
// and, as lines, into b. Call done once the process ended.
func output(ctx context.Context, b *steplog.Buffer, stdout, stderr io.Writer) (o, e io.Writer, done func()) {
	red := func(s string) string { return redact(ctx, s) }
	so, se := b.Writer(steplog.Stdout, red), b.Writer(steplog.Stderr, red)
	return io.MultiWriter(stdout, so), io.MultiWriter(stderr, se), func() { so.Close(); se.Close() }
}

// logLine adds a log step's message, already redacted, as lines.
func logLine(b *steplog.Buffer, msg string) {
	w := steplog.NewSplitter(steplog.Log, nil, b.Add)
	_, _ = w.Write([]byte(msg))
	w.Close()
}
