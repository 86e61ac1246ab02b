package runbooks_test

import (
	"strings"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/runbooks"
)

const yearEnd = `apiVersion: runbook/v1
kind: Freeze
metadata: {name: year-end}
spec:
  reason: Year-end change freeze
  timezone: Europe/Berlin
  windows:
    - {from: "2026-12-20", to: "2027-01-04T09:00"}
    - {cron: "0 16 * * FRI", duration: 64h}
  runbooks:
    names: [release]
    labels: {domain: change}
  exempt:
    labels: {incident: remediation}
  breakGlass: {approvers: ["group:cab"]}
`

func TestBuildFreeze(t *testing.T) {
	f, diags := runbooks.BuildFreeze("f.yaml", []byte(yearEnd))
	if f == nil || len(diags) != 0 {
		t.Fatalf("build: %v", diags)
	}
	if runbooks.DocumentKind([]byte(yearEnd)) != "Freeze" {
		t.Error("kind")
	}
	if !f.Selects("release", nil) || !f.Selects("db", map[string]string{"domain": "change"}) ||
		f.Selects("db", map[string]string{"domain": "change", "incident": "remediation"}) || f.Selects("backup", nil) {
		t.Error("selection")
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for _, c := range []struct {
		at     time.Time
		active bool
		until  string
	}{
		{time.Date(2026, 12, 17, 12, 0, 0, 0, berlin), false, ""},
		// Friday 2026-12-18 16:00 starts a weekend window that runs into the range.
		{time.Date(2026, 12, 19, 12, 0, 0, 0, berlin), true, "2027-01-04T08:00:00Z"},
		{time.Date(2026, 12, 20, 0, 0, 0, 0, berlin), true, "2027-01-04T08:00:00Z"},
		// Friday 2027-01-01 16:00 starts a weekend window that joins the range.
		{time.Date(2027, 1, 2, 12, 0, 0, 0, berlin), true, "2027-01-04T08:00:00Z"},
		{time.Date(2027, 1, 6, 12, 0, 0, 0, berlin), false, ""},
		{time.Date(2027, 1, 8, 17, 0, 0, 0, berlin), true, "2027-01-11T07:00:00Z"},
	} {
		iv, active, err := f.ActiveAt(c.at)
		if err != nil || active != c.active || (active && iv.To.Format(time.RFC3339) != c.until) {
			t.Errorf("at %s: %v %v %v, want %v until %s", c.at, iv, active, err, c.active, c.until)
		}
	}
}

func TestBuildFreezeDiagnostics(t *testing.T) {
	src := `apiVersion: runbook/v1
kind: Freeze
metadata: {name: Bad_Name}
spec:
  reason: " "
  timezone: Mars/Olympus
  windows:
    - {from: "2026-12-20", to: "2026-12-19"}
    - {from: "someday", to: "2027-01-01"}
    - {cron: "0 16 * * FRI"}
    - {cron: "@daily", duration: 48h}
    - {from: "2026-12-20", cron: "@daily"}
    - {}
  runbooks: {names: [Nope]}
  breakGlass: {approvers: [], minApprovals: 0}
  extra: 1
`
	f, diags := runbooks.BuildFreeze("f.yaml", []byte(src))
	if f != nil {
		t.Fatal("an invalid freeze compiled")
	}
	var got []string
	for _, d := range diags {
		got = append(got, d.String())
	}
	want := []string{
		`f.yaml:3:18: metadata.name: name "Bad_Name" must be lowercase letters, digits and dashes, start with a letter, at most 63 characters`,
		`f.yaml:5:11: spec.reason: reason must not be empty`,
		`f.yaml:6:13: spec.timezone: unknown time zone "Mars/Olympus" (an IANA name such as Europe/Berlin or America/New_York)`,
		`f.yaml:8:32: spec.windows[0].to: to (2026-12-19T00:00:00Z) must be after from (2026-12-20T00:00:00Z)`,
		`f.yaml:9:14: spec.windows[1].from: "someday" is not a date or time (2026-12-20, 2026-12-20T18:00 (in the freeze's time zone) or 2026-12-20T18:00:00+01:00)`,
		`f.yaml:10:7: spec.windows[2]: a recurrence needs both cron and duration`,
		`f.yaml:11:34: warning: spec.windows[3].duration: each window (2d) lasts longer than the time between two starts (1d): the windows overlap into one`,
		`f.yaml:12:7: spec.windows[4]: a window is a date range (from, to) or a recurrence (cron, duration), not both`,
		`f.yaml:13:7: spec.windows[5]: a window needs from and to, or cron and duration`,
		`f.yaml:14:22: spec.runbooks.names[0]: "Nope" is not a runbook name`,
		`f.yaml:15:27: spec.breakGlass.approvers: break-glass needs at least one approver`,
		`f.yaml:15:45: spec.breakGlass.minApprovals: minApprovals must be at least 1`,
		`f.yaml:16:3: spec.extra: unknown field "extra"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestFreezeOverlapWarning(t *testing.T) {
	src := strings.Replace(yearEnd, `    - {cron: "0 16 * * FRI", duration: 64h}`, `    - {from: "2026-12-24", to: "2026-12-27"}`, 1)
	f, diags := runbooks.BuildFreeze("f.yaml", []byte(src))
	if f == nil || len(diags) != 1 || diags[0].String() != "f.yaml:9:7: warning: spec.windows[1]: this window overlaps spec.windows[0] (line 8)" {
		t.Errorf("diagnostics: %v", diags)
	}
}

// Recurrences every hour or more often hold as the rarer ones do (they
// once found no window), and overlapping ones merge into one window.
func TestFrequentFreezeWindows(t *testing.T) {
	for _, c := range []struct {
		window, at, until, next string
	}{
		{`{cron: "0 * * * *", duration: 59m}`, "2026-12-03T09:35:00Z", "2026-12-03T09:59:00Z", "2026-12-03T10:00:00Z"},
		{`{cron: "*/15 * * * *", duration: 14m}`, "2026-12-03T09:35:00Z", "2026-12-03T09:44:00Z", "2026-12-03T09:45:00Z"},
		{`{cron: "*/15 * * * *", duration: 15m}`, "2026-12-03T09:35:00Z", "", ""}, // touching windows: one, past the lookahead
		{`{cron: "0 * * * *", duration: 30m}`, "2026-12-03T09:45:00Z", "", "2026-12-03T10:00:00Z"},
	} {
		src := strings.Replace(yearEnd, `    - {from: "2026-12-20", to: "2027-01-04T09:00"}
    - {cron: "0 16 * * FRI", duration: 64h}`, "    - "+c.window, 1)
		src = strings.Replace(src, "timezone: Europe/Berlin", "timezone: UTC", 1)
		f, diags := runbooks.BuildFreeze("f.yaml", []byte(src))
		if f == nil {
			t.Fatalf("%s: %v", c.window, diags)
		}
		at, _ := time.Parse(time.RFC3339, c.at)
		iv, active, err := f.ActiveAt(at)
		switch {
		case err != nil:
			t.Errorf("%s: %v", c.window, err)
		case c.until == "" && c.next == "" && !active:
			t.Errorf("%s: not active at %s", c.window, c.at)
		case c.until != "" && (!active || iv.To.Format(time.RFC3339) != c.until):
			t.Errorf("%s at %s: %v %v, want until %s", c.window, c.at, active, iv, c.until)
		case c.until == "" && c.next != "" && active:
			t.Errorf("%s at %s: active %v", c.window, c.at, iv)
		}
		if c.next == "" {
			continue
		}
		next, err := f.Next(at, 3)
		if err != nil || len(next) != 3 || next[0].From.Format(time.RFC3339) != c.next {
			t.Errorf("%s: next %v %v, want from %s", c.window, next, err, c.next)
		}
	}
}
