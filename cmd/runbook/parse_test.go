package main

import (
	"reflect"
	"testing"
	"time"
)

func TestParseInputs(t *testing.T) {
	got, err := parseInputs([]string{"size_gb=42", "ok=true", `hosts=["a","b"]`, `quoted="42"`, "ticket=CHG-42", "empty=", "eq=a=b", "none=null"})
	want := map[string]any{"size_gb": float64(42), "ok": true, "hosts": []any{"a", "b"}, "quoted": "42", "ticket": "CHG-42", "empty": "", "eq": "a=b", "none": nil}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, %v", got, err)
	}
	for args, msg := range map[string]string{"size": `--input "size": want name=value`, "=1": `--input "=1": want name=value`} {
		if _, err := parseInputs([]string{args}); err == nil || err.Error() != msg {
			t.Errorf("%s: %v", args, err)
		}
	}
	if _, err := parseInputs([]string{"a=1", "a=2"}); err == nil || err.Error() != "--input a is given twice" {
		t.Errorf("twice: %v", err)
	}
}

func TestPointInTime(t *testing.T) {
	now := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	for in, want := range map[string]string{
		"24h":                       "2026-12-01T03:00:00Z",
		"7d":                        "2026-11-25T03:00:00Z",
		"90m":                       "2026-12-02T01:30:00Z",
		"2026-11-30T10:00:00+01:00": "2026-11-30T09:00:00Z",
	} {
		got, err := pointInTime(in, now)
		if err != nil || got.UTC().Format(time.RFC3339) != want {
			t.Errorf("%s: %v %v, want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"yesterday", "-5h", "0s", "2026-11-30"} {
		if _, err := pointInTime(in, now); err == nil {
			t.Errorf("%s: no error", in)
		}
	}
}

func TestTextHelpers(t *testing.T) {
	if got := truncate("héllo wörld", 6); got != "héllo…" {
		t.Errorf("truncate: %q", got)
	}
	if got := truncate("short", 6); got != "short" {
		t.Errorf("truncate: %q", got)
	}
	if got := oneLine("exit 3:\n  HINT: retry\n"); got != "exit 3: HINT: retry" {
		t.Errorf("oneLine: %q", got)
	}
	for d, want := range map[time.Duration]string{1500 * time.Microsecond: "2ms", 59 * time.Second: "59s", 61*time.Second + 400*time.Millisecond: "1m1s", 25 * time.Hour: "1d1h"} {
		if got := span(d); got != want {
			t.Errorf("span(%s) = %q, want %q", d, got, want)
		}
	}
}
