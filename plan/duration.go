package plan

import (
	"fmt"
	"strings"
	"time"
)

// ParseDuration parses a Go duration extended with days ("7d", "1d12h").
// A day is 24 hours; negative durations are accepted here and rejected
// where a field must be positive.
func ParseDuration(s string) (time.Duration, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, fmt.Errorf("empty duration")
	}
	neg := false
	rest := in
	if rest[0] == '-' || rest[0] == '+' {
		neg = rest[0] == '-'
		rest = rest[1:]
	}
	var days time.Duration
	if i := strings.IndexByte(rest, 'd'); i >= 0 {
		n, err := parseDays(rest[:i])
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		days = n
		rest = rest[i+1:]
	}
	var d time.Duration
	if rest != "" {
		var err error
		if d, err = time.ParseDuration(rest); err != nil || strings.HasPrefix(rest, "-") || strings.HasPrefix(rest, "+") {
			return 0, fmt.Errorf("invalid duration %q (want e.g. 90s, 15m, 2h, 7d, 1d12h)", s)
		}
	}
	total := days + d
	if total < days {
		return 0, fmt.Errorf("duration %q overflows", s)
	}
	if neg {
		total = -total
	}
	return total, nil
}

func parseDays(s string) (time.Duration, error) {
	if s == "" || len(s) > 5 {
		return 0, fmt.Errorf("bad day count")
	}
	var n time.Duration
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("bad day count")
		}
		n = n*10 + time.Duration(c-'0')
	}
	return n * 24 * time.Hour, nil
}

// FormatDuration renders d with a day unit where whole days fit ("7d", "1d12h").
func FormatDuration(d time.Duration) string {
	if d < 0 {
		return "-" + FormatDuration(-d)
	}
	day := 24 * time.Hour
	if d < day {
		return trimZeroUnits(d.String())
	}
	days := d / day
	rest := d % day
	if rest == 0 {
		return fmt.Sprintf("%dd", days)
	}
	return fmt.Sprintf("%dd%s", days, trimZeroUnits(rest.String()))
}

// trimZeroUnits turns "1h0m0s" into "1h" and "2m0s" into "2m".
func trimZeroUnits(s string) string {
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
