package steplog

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Tail bounds of the lines a failed step's error carries.
const (
	TailLines = 20
	TailBytes = 4 << 10
)

// maxPending bounds what the buffer holds while the sink does not take
// lines (a database down): past it, the oldest lines are dropped and
// counted, and a line saying so is kept in their place.
const maxPending = 4 << 20

// Buffer batches the lines of one step attempt to a sink: every
// FlushEvery, or sooner once FlushBytes are waiting. Writers never wait
// for the sink. It also keeps the last TailLines lines for the step's
// error. With a nil sink it keeps only the tail.
type Buffer struct {
	key  Key
	sink Sink
	warn func(error) // told of the first sink failure

	mu      sync.Mutex
	batch   []Line
	bytes   int
	dropped int
	tail    []Line
	warned  bool
	writers []*Splitter
	kick    chan struct{}
	done    chan struct{}
	stopped chan struct{}
}

// NewBuffer starts a buffer for key. Close it to flush what is left.
func NewBuffer(key Key, sink Sink, warn func(error)) *Buffer {
	b := &Buffer{key: key, sink: sink, warn: warn, kick: make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{})}
	if sink == nil {
		close(b.stopped)
		return b
	}
	go b.loop()
	return b
}

// Add takes one line (already redacted).
func (b *Buffer) Add(stream, text string, at time.Time) {
	l := Line{At: at.UTC(), Stream: stream, Text: text}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tail = append(b.tail, l)
	if len(b.tail) > TailLines {
		b.tail = b.tail[len(b.tail)-TailLines:]
	}
	if b.sink == nil {
		return
	}
	b.batch = append(b.batch, l)
	b.bytes += len(text)
	for b.bytes > maxPending && len(b.batch) > 1 {
		b.bytes -= len(b.batch[0].Text)
		b.batch = b.batch[1:]
		b.dropped++
	}
	if b.bytes >= FlushBytes {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
}

// Writer is a splitter for stream that adds its lines here, flushed
// with the buffer.
func (b *Buffer) Writer(stream string, redact func(string) string) *Splitter {
	w := NewSplitter(stream, redact, b.Add)
	b.mu.Lock()
	b.writers = append(b.writers, w)
	b.mu.Unlock()
	return w
}

func (b *Buffer) loop() {
	defer close(b.stopped)
	t := time.NewTicker(FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-b.done:
			b.flush()
			return
		case <-t.C:
		case <-b.kick:
		}
		b.flush()
	}
}

// flush hands the waiting lines to the sink; lines it refuses wait for
// the next flush.
func (b *Buffer) flush() {
	b.mu.Lock()
	writers := b.writers
	b.mu.Unlock()
	for _, w := range writers {
		w.Flush()
	}
	b.mu.Lock()
	lines, dropped := b.batch, b.dropped
	b.batch, b.bytes, b.dropped = nil, 0, 0
	b.mu.Unlock()
	if dropped > 0 {
		note := Line{At: time.Now().UTC(), Stream: Log, Text: fmt.Sprintf("[%d lines dropped: the log store did not take them in time]", dropped)}
		lines = append([]Line{note}, lines...)
	}
	if len(lines) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err := b.sink.AppendLog(ctx, b.key, lines)
	cancel()
	if err == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.warned && b.warn != nil {
		b.warned = true
		b.warn(fmt.Errorf("step log %s: %w", b.key, err))
	}
	if dropped > 0 {
		lines = lines[1:]
	}
	b.batch = append(lines, b.batch...)
	b.dropped += dropped
	for _, l := range lines {
		b.bytes += len(l.Text)
	}
}

// Close flushes what is left and stops the buffer.
func (b *Buffer) Close() {
	select {
	case <-b.done:
	default:
		close(b.done)
	}
	<-b.stopped
}

// Tail is the last lines, at most TailBytes of them, oldest first.
func (b *Buffer) Tail() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	size := 0
	for i := len(b.tail) - 1; i >= 0; i-- {
		t := b.tail[i].Text
		if size+len(t)+1 > TailBytes {
			if len(out) == 0 { // one long line: its start
				i := TailBytes - len(TruncatedMark)
				for i > 0 && !utf8.RuneStart(t[i]) {
					i--
				}
				out = append(out, t[:i]+TruncatedMark)
			}
			break
		}
		size += len(t) + 1
		out = append(out, t)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// TailText is Tail as text, one line each.
func (b *Buffer) TailText() string { return strings.Join(b.Tail(), "\n") }
