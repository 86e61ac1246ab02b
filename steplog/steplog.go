// Package steplog carries the lines steps print from the worker to the
// records: what a line is, how output is cut into lines, and the buffer
// that batches them to a Sink. Lines never go through Temporal history.
package steplog

import (
	"context"
	"fmt"
	"time"
)

// Streams a line comes from.
const (
	Stdout = "stdout"
	Stderr = "stderr"
	Log    = "log" // a log step's message
)

// Limits of step logs.
const (
	// MaxLine is the longest line kept; the rest of a longer one is
	// dropped and the line ends with TruncatedMark.
	MaxLine = 8 << 10
	// DefaultStepBytes and DefaultRunBytes bound the text kept of one
	// step attempt and of one run: the first half and the last half are
	// kept, what lies between is elided and counted.
	DefaultStepBytes = 10 << 20
	DefaultRunBytes  = 50 << 20
	// FlushEvery and FlushBytes are how often, or after how much text,
	// the buffer hands its lines to the sink.
	FlushEvery = 250 * time.Millisecond
	FlushBytes = 64 << 10
)

// TruncatedMark ends a line cut at MaxLine.
const TruncatedMark = " [line truncated]"

// Line is one line a step printed. Seq is the line's place in its run,
// given when the records keep it.
type Line struct {
	Seq    int64     `json:"seq,omitempty"`
	At     time.Time `json:"at"`
	Stream string    `json:"stream"`
	Text   string    `json:"text"`
}

// Key names one attempt of one step: Item is -1 outside a forEach.
type Key struct {
	RunID   string
	Step    string
	Item    int
	Attempt int
}

func (k Key) String() string {
	if k.Item < 0 {
		return fmt.Sprintf("%s/%s#%d", k.RunID, k.Step, k.Attempt)
	}
	return fmt.Sprintf("%s/%s[%d]#%d", k.RunID, k.Step, k.Item, k.Attempt)
}

// Sink keeps lines: the records database, in a worker started with one.
type Sink interface {
	AppendLog(ctx context.Context, key Key, lines []Line) error
}

// Caps are the byte limits a sink applies; zero fields take the defaults.
type Caps struct {
	StepBytes, RunBytes int64
}

// WithDefaults fills zero fields.
func (c Caps) WithDefaults() Caps {
	if c.StepBytes <= 0 {
		c.StepBytes = DefaultStepBytes
	}
	if c.RunBytes <= 0 {
		c.RunBytes = DefaultRunBytes
	}
	return c
}
