package steplog

import (
	"bytes"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// redactSlack is how much of a long line is kept past MaxLine until it
// is redacted, so a secret that straddles the cut is masked whole (up to
// that length) before the line is cut.
const redactSlack = 4 << 10

// maxHeld bounds the complete lines a splitter holds between flushes.
const maxHeld = 256 << 10

// Splitter cuts one stream's output into lines. It holds complete lines
// until Flush (the buffer flushes every FlushEvery) and redacts them
// together, so a secret printed across lines and writes (cat key.pem;
// echo) between two flushes is masked whole. Lines longer than MaxLine
// are cut and marked; a last line without a newline is emitted by Close.
type Splitter struct {
	stream  string
	redact  func(string) string
	emit    func(stream, text string, at time.Time)
	now     func() time.Time
	mu      sync.Mutex
	raw     []byte      // not yet emitted: complete lines, then a partial one
	times   []time.Time // when each newline in raw arrived
	discard bool        // dropping the rest of a truncated line
}

// NewSplitter returns a splitter for stream that redacts text with
// redact (nil: none) and hands each line to emit.
func NewSplitter(stream string, redact func(string) string, emit func(stream, text string, at time.Time)) *Splitter {
	if redact == nil {
		redact = func(s string) string { return s }
	}
	return &Splitter{stream: stream, redact: redact, emit: emit, now: time.Now}
}

// Write implements io.Writer; it never fails.
func (s *Splitter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(p)
	at := s.now()
	if s.discard {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			return n, nil
		}
		s.discard, p = false, p[i+1:]
	}
	for q := p; ; {
		i := bytes.IndexByte(q, '\n')
		if i < 0 {
			break
		}
		s.times = append(s.times, at)
		q = q[i+1:]
	}
	s.raw = append(s.raw, p...)
	if partial := len(s.raw) - (bytes.LastIndexByte(s.raw, '\n') + 1); partial > MaxLine+redactSlack {
		s.flushLocked()
		s.emit(s.stream, cut(s.redact(string(s.raw))), at)
		s.raw, s.discard = s.raw[:0], true
	} else if len(s.raw) > maxHeld {
		s.flushLocked()
	}
	return n, nil
}

// Flush emits the complete lines held.
func (s *Splitter) Flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushLocked()
}

func (s *Splitter) flushLocked() {
	i := bytes.LastIndexByte(s.raw, '\n')
	if i < 0 {
		return
	}
	lines := strings.Split(s.redact(string(s.raw[:i])), "\n")
	for j, line := range lines {
		// A secret masked across lines leaves fewer: those lines take
		// the time of the last.
		at := s.times[len(s.times)-1]
		if len(lines) == len(s.times) {
			at = s.times[j]
		}
		s.emit(s.stream, cut(line), at)
	}
	s.raw = append(s.raw[:0], s.raw[i+1:]...)
	s.times = s.times[:0]
}

// Close emits what is held, a last line without a newline too.
func (s *Splitter) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushLocked()
	if len(s.raw) > 0 {
		s.emit(s.stream, cut(s.redact(string(s.raw))), s.now())
		s.raw = s.raw[:0]
	}
	s.discard = false
}

// cut drops a carriage return before the newline and cuts a line longer
// than MaxLine at a character boundary, marking it.
func cut(line string) string {
	line = strings.TrimSuffix(line, "\r")
	if len(line) <= MaxLine {
		return line
	}
	i := MaxLine
	for i > 0 && !utf8.RuneStart(line[i]) {
		i--
	}
	return line[:i] + TruncatedMark
}
