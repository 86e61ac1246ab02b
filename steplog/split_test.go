package steplog

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSplitter(t *testing.T) {
	long := strings.Repeat("x", MaxLine+10)
	cases := []struct {
		name   string
		writes []string
		want   []string
	}{
		{"one line", []string{"a\n"}, []string{"a"}},
		{"lines in one write", []string{"a\nb\nc\n"}, []string{"a", "b", "c"}},
		{"line across writes", []string{"ab", "c\nd", "e\n"}, []string{"abc", "de"}},
		{"partial last line", []string{"a\nb"}, []string{"a", "b"}},
		{"empty lines kept", []string{"\n\na\n"}, []string{"", "", "a"}},
		{"crlf", []string{"a\r\nb\r\n"}, []string{"a", "b"}},
		{"long complete line cut", []string{long + "\nnext\n"}, []string{long[:MaxLine] + TruncatedMark, "next"}},
		{"long partial line cut once", []string{long, strings.Repeat("y", 2*redactSlack), "z\nafter\n"}, []string{long[:MaxLine] + TruncatedMark, "after"}},
		{"utf-8 kept whole", []string{strings.Repeat("a", MaxLine-1) + "é\n"}, []string{strings.Repeat("a", MaxLine-1) + TruncatedMark}},
		{"secret across lines of one write", []string{"key:\nBEGIN\nSECRET\nEND\ndone\n"}, []string{"key:", "***", "done"}},
		{"secret across writes", []string{"key:\nBEGIN\nSEC", "RET\nEND", "\n", "done\n"}, []string{"key:", "***", "done"}},
		{"nothing", nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			s := NewSplitter(Stdout, func(s string) string { return strings.ReplaceAll(s, "BEGIN\nSECRET\nEND", "***") }, func(stream, text string, at time.Time) {
				if stream != Stdout || at.IsZero() {
					t.Errorf("line %q: stream %q at %v", text, stream, at)
				}
				got = append(got, text)
			})
			for _, w := range c.writes {
				if n, err := s.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("write = %d, %v", n, err)
				}
			}
			s.Close()
			if strings.Join(got, "|") != strings.Join(c.want, "|") || len(got) != len(c.want) {
				t.Errorf("lines = %q, want %q", got, c.want)
			}
		})
	}
}

type memSink struct{ lines []Line }

func (m *memSink) AppendLog(_ context.Context, _ Key, lines []Line) error {
	m.lines = append(m.lines, lines...)
	return nil
}

func TestBufferTail(t *testing.T) {
	sink := &memSink{}
	b := NewBuffer(Key{RunID: "r", Step: "s", Item: -1, Attempt: 1}, sink, nil)
	w := b.Writer(Stderr, nil)
	for i := range 30 {
		_, _ = w.Write([]byte(strings.Repeat("l", i) + "\n"))
	}
	w.Close()
	b.Close()
	tail := b.Tail()
	if len(tail) != TailLines || tail[0] != strings.Repeat("l", 10) || tail[19] != strings.Repeat("l", 29) {
		t.Errorf("tail = %q", tail)
	}
	if len(sink.lines) != 30 || sink.lines[29].Stream != Stderr {
		t.Errorf("sink got %d lines", len(sink.lines))
	}
	big := NewBuffer(Key{}, nil, nil)
	for range 20 {
		big.Add(Stdout, strings.Repeat("b", 1000), time.Now())
	}
	if got := big.Tail(); len(got) != 4 {
		t.Errorf("tail of 1000-byte lines: %d lines, want 4 (TailBytes)", len(got))
	}
}

// flakySink refuses its first calls, as a database that is down would.
type flakySink struct {
	memSink
	refuse int
}

func (f *flakySink) AppendLog(ctx context.Context, k Key, lines []Line) error {
	if f.refuse > 0 {
		f.refuse--
		return errors.New("the database did not answer")
	}
	return f.memSink.AppendLog(ctx, k, lines)
}

// Lines the sink refused are sent again with the next flush, in order,
// and the first failure is reported once.
func TestBufferRetriesRefusedLines(t *testing.T) {
	sink := &flakySink{refuse: 2}
	var warned []string
	b := NewBuffer(Key{RunID: "r", Step: "s", Item: -1, Attempt: 1}, sink, func(err error) { warned = append(warned, err.Error()) })
	b.Add(Stdout, "first", time.Now())
	time.Sleep(3 * FlushEvery)
	b.Add(Stdout, "second", time.Now())
	b.Close()
	var got []string
	for _, l := range sink.lines {
		got = append(got, l.Text)
	}
	if strings.Join(got, ",") != "first,second" {
		t.Errorf("sink got %q", got)
	}
	if len(warned) != 1 || warned[0] != "step log r/s#1: the database did not answer" {
		t.Errorf("warned %q", warned)
	}
}
