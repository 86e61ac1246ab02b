package activities

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/steplog"
)

// memLogs is a sink that keeps lines in memory, by key.
type memLogs struct {
	mu    sync.Mutex
	lines map[steplog.Key][]steplog.Line
}

func (m *memLogs) AppendLog(_ context.Context, k steplog.Key, lines []steplog.Line) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lines == nil {
		m.lines = map[steplog.Key][]steplog.Line{}
	}
	m.lines[k] = append(m.lines[k], lines...)
	return nil
}

func (m *memLogs) texts(k steplog.Key, stream string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, l := range m.lines[k] {
		if l.Stream == stream {
			out = append(out, l.Text)
		}
	}
	return out
}

// A shell step's lines reach the sink under its run, step, item and
// attempt, masked, before the call returns; so do a log step's.
func TestActionLinesReachTheSink(t *testing.T) {
	dir := t.TempDir()
	secret := "pem-line-one\npem-line-two"
	if err := os.WriteFile(filepath.Join(dir, "KEY"), []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &memLogs{}
	e := &Env{Secrets: DirSecrets(dir), Logs: logs}
	item := 2
	in := plan.ActionInput{RunID: "r-1", StepID: "deploy", Item: &item, Attempts: 1, Inputs: map[string]any{
		"script": `printf 'one\ntwo\n'; cat "$K"; echo; echo "warn" >&2; printf 'no newline'`, "env": map[string]any{"K": filepath.Join(dir, "KEY")}}}
	if _, err := handlerOf(e, ShellSpec)(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	k := steplog.Key{RunID: "r-1", Step: "deploy", Item: 2, Attempt: 2}
	if got := logs.texts(k, steplog.Stdout); !slices.Equal(got, []string{"one", "two", "***", "no newline"}) {
		t.Errorf("stdout lines = %q", got)
	}
	if got := logs.texts(k, steplog.Stderr); !slices.Equal(got, []string{"warn"}) {
		t.Errorf("stderr lines = %q", got)
	}
	if _, err := handlerOf(e, LogSpec)(context.Background(), plan.ActionInput{RunID: "r-1", StepID: "say", Inputs: map[string]any{"message": "a\nb"}}); err != nil {
		t.Fatal(err)
	}
	if got := logs.texts(steplog.Key{RunID: "r-1", Step: "say", Item: -1, Attempt: 1}, steplog.Log); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("log lines = %q", got)
	}
}

// A failed step's error carries its last lines, bounded.
func TestShellErrorCarriesTheTail(t *testing.T) {
	_, err := handlerOf(&Env{}, ShellSpec)(context.Background(), plan.ActionInput{Inputs: map[string]any{
		"script": `i=1; while [ $i -le 50 ]; do echo "step $i"; i=$((i+1)); done; exit 3`}})
	app := appErr(t, err)
	var want []string
	for i := 31; i <= 50; i++ {
		want = append(want, fmt.Sprintf("step %d", i))
	}
	if app.Message() != "exit code 3\nlast 20 lines of output:\n"+strings.Join(want, "\n") {
		t.Errorf("message = %q", app.Message())
	}
}

// A multi-line secret whose printing straddles a flush is redacted line
// by line: each of its lines is masked in whichever flush carries it.
func TestMultiLineSecretAcrossAFlushIsMasked(t *testing.T) {
	key := "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END KEY-----"
	rd := NewRedactor([]string{key})
	var got []string
	w := steplog.NewSplitter(steplog.Stdout, rd.String, func(_, text string, _ time.Time) { got = append(got, text) })
	_, _ = w.Write([]byte("-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"))
	w.Flush()
	_, _ = w.Write([]byte("-----END KEY-----\nafter\n"))
	w.Close()
	if want := []string{"***", "***", "***", "after"}; !slices.Equal(got, want) {
		t.Errorf("lines = %q, want %q", got, want)
	}
	// Whole between two flushes, it is masked as one value.
	got = nil
	w = steplog.NewSplitter(steplog.Stdout, rd.String, func(_, text string, _ time.Time) { got = append(got, text) })
	_, _ = w.Write([]byte("k: " + key + " end\n"))
	w.Close()
	if want := []string{"k: *** end"}; !slices.Equal(got, want) {
		t.Errorf("whole: lines = %q, want %q", got, want)
	}
	// A line of it is masked wherever it appears, its blanks kept; a
	// line under MinSecretLen is not masked by itself.
	rd = NewRedactor([]string{"abc\n  line of a secret  \nxyz"})
	if got, want := rd.String("x line of a secret y abc xyz"), "x *** y abc xyz"; got != want {
		t.Errorf("a line alone: %q, want %q", got, want)
	}
}
