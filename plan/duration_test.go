package plan

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"90s", 90 * time.Second, false},
		{"15m", 15 * time.Minute, false},
		{"7d", 7 * 24 * time.Hour, false},
		{"1d12h", 36 * time.Hour, false},
		{"1d12h30m", 36*time.Hour + 30*time.Minute, false},
		{"-2h", -2 * time.Hour, false},
		{"1.5h", 90 * time.Minute, false},
		{"", 0, true},
		{"d", 0, true},
		{"1x", 0, true},
		{"5 minutes", 0, true},
		{"1d-2h", 0, true},
		{"999999d", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, err %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		90 * time.Second:                    "1m30s",
		time.Hour:                           "1h",
		2 * time.Minute:                     "2m",
		7 * 24 * time.Hour:                  "7d",
		36*time.Hour + 30*time.Minute:       "1d12h30m",
		-36 * time.Hour:                     "-1d12h",
		500 * time.Millisecond:              "500ms",
		24*time.Hour + 500*time.Millisecond: "1d500ms",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
		if back, err := ParseDuration(FormatDuration(d)); err != nil || back != d {
			t.Errorf("round trip of %v: %v, %v", d, back, err)
		}
	}
}
