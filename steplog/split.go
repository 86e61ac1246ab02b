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

// Splitter cuts one stream's output into lines. The complete lines of
// each write are redacted together, so a secret printed across lines in
// one write (a PEM key) is masked; lines longer than MaxLine are cut and
// marked; a last line without a newline is emitted by Close.
type Splitter struct {
	stream  string
	redact  func(string) string
	emit    func(stream, text string, at time.Time)
	now     func() time.Time
	mu      sync.Mutex
	pending []byte
	discard bool // dropping the rest of a truncated line
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
	if i := bytes.LastIndexByte(p, '\n'); i >= 0 {
		var text string
		if len(s.pending) > 0 {
			text = string(s.pending) + string(p[:i])
			s.pending = s.pending[:0]
		} else {
			text = string(p[:i])
		}
		for _, line := range strings.Split(s.redact(text), "\n") {
			s.emit(s.stream, cut(line), at)
		}
		p = p[i+1:]
	}
	s.pending = append(s.pending, p...)
	if len(s.pending) > MaxLine+redactSlack {
		s.emit(s.stream, cut(s.redact(string(s.pending))), at)
		s.pending, s.discard = s.pending[:0], true
	}
	return n, nil
}

// Close emits a last line that had no newline.
func (s *Splitter) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending) > 0 {
		s.emit(s.stream, cut(s.redact(string(s.pending))), s.now())
		s.pending = s.pending[:0]
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
