package plan

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/robfig/cron/v3"
)

// Freeze is a compiled change freeze (a kind: Freeze document): while one
// of its windows is open, the runbooks it selects do not start.
type Freeze struct {
	Name        string         `json:"name"`
	Description string         `json:"description,omitempty"`
	Reason      string         `json:"reason"`
	Timezone    string         `json:"timezone"`
	Windows     []FreezeWindow `json:"windows"`
	Runbooks    Selector       `json:"runbooks"`
	Exempt      Selector       `json:"exempt,omitzero"`
	// BreakGlass, when set, lets a start ask for an exception: the run is
	// held for these approvers' approval before its first step.
	BreakGlass *BreakGlass `json:"breakGlass,omitempty"`
}

// FreezeWindow is a date range (From, To), or a recurrence: a window of
// Duration from each fire of Cron, in the freeze's time zone.
type FreezeWindow struct {
	From     *time.Time    `json:"from,omitempty"`
	To       *time.Time    `json:"to,omitempty"`
	Cron     string        `json:"cron,omitempty"`
	Duration time.Duration `json:"duration,omitempty"`
}

// freezeWindowJSON is a FreezeWindow as JSON: the duration as written
// ("64h", "2d"), not in nanoseconds.
type freezeWindowJSON struct {
	From     *time.Time `json:"from,omitempty"`
	To       *time.Time `json:"to,omitempty"`
	Cron     string     `json:"cron,omitempty"`
	Duration string     `json:"duration,omitempty"`
}

// MarshalJSON writes the duration as text.
func (w FreezeWindow) MarshalJSON() ([]byte, error) {
	j := freezeWindowJSON{From: w.From, To: w.To, Cron: w.Cron}
	if w.Duration > 0 {
		j.Duration = FormatDuration(w.Duration)
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (w *FreezeWindow) UnmarshalJSON(b []byte) error {
	var j freezeWindowJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*w = FreezeWindow{From: j.From, To: j.To, Cron: j.Cron}
	if j.Duration != "" {
		d, err := ParseDuration(j.Duration)
		if err != nil {
			return fmt.Errorf("freeze window duration: %w", err)
		}
		w.Duration = d
	}
	return nil
}

// Selector picks runbooks by name or by labels (all of them must match).
type Selector struct {
	Names  []string          `json:"names,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
}

// BreakGlass is who may let a run start during the freeze.
type BreakGlass struct {
	Approvers    []string `json:"approvers"`
	MinApprovals int      `json:"minApprovals"`
}

// Interval is a time range [From, To).
type Interval struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Matches reports whether the selector picks the runbook.
func (s Selector) Matches(name string, labels map[string]string) bool {
	if slices.Contains(s.Names, name) {
		return true
	}
	if len(s.Labels) == 0 {
		return false
	}
	for k, v := range s.Labels {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// Selects reports whether the freeze holds back the runbook: selected,
// and not exempt.
func (f *Freeze) Selects(name string, labels map[string]string) bool {
	return f.Runbooks.Matches(name, labels) && !f.Exempt.Matches(name, labels)
}

// FreezeCron parses a freeze window's recurrence as schedules do.
var FreezeCron = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// overlapping are the freeze's windows that overlap [from, to), unmerged.
// Callers keep [from, to) short (a day at most): a recurrence every minute
// is 1,440 windows a day.
func (f *Freeze) overlapping(from, to time.Time, loc *time.Location) ([]Interval, error) {
	var out []Interval
	for _, w := range f.Windows {
		if w.Cron == "" {
			if w.To.After(from) && w.From.Before(to) {
				out = append(out, Interval{*w.From, *w.To})
			}
			continue
		}
		sched, err := FreezeCron.Parse(w.Cron)
		if err != nil {
			return nil, fmt.Errorf("freeze %q: %w", f.Name, err)
		}
		// A window open at from began at most Duration before it.
		for at := sched.Next(from.Add(-w.Duration).In(loc)); !at.IsZero() && at.Before(to); at = sched.Next(at) {
			if end := at.Add(w.Duration); end.After(from) {
				out = append(out, Interval{at.UTC(), end.UTC()})
			}
		}
	}
	return out, nil
}

// scanStep is how much of the calendar one overlapping call covers.
const scanStep = 24 * time.Hour

// Merged are the freeze's windows that overlap [from, to), merged where
// they touch or overlap (a window runs on while another begins before it
// ends), in order, at most limit of them (the soonest).
func (f *Freeze) Merged(from, to time.Time, limit int) ([]Interval, error) {
	loc, err := time.LoadLocation(f.Timezone)
	if err != nil {
		return nil, fmt.Errorf("freeze %q: %w", f.Name, err)
	}
	var out []Interval
	cursor := from
	for cursor.Before(to) && len(out) < limit {
		// The first window overlapping [cursor, cursor+scanStep).
		ivs, err := f.overlapping(cursor, minTime(cursor.Add(scanStep), to), loc)
		if err != nil {
			return nil, err
		}
		if len(ivs) == 0 {
			cursor = cursor.Add(scanStep)
			continue
		}
		first := ivs[0]
		for _, iv := range ivs[1:] {
			if iv.From.Before(first.From) {
				first = iv
			}
		}
		merged, err := f.extend(first, loc)
		if err != nil {
			return nil, err
		}
		if n := len(out); n > 0 && !merged.From.After(out[n-1].To) {
			if merged.To.After(out[n-1].To) {
				out[n-1].To = merged.To
			}
		} else {
			out = append(out, merged)
		}
		cursor = merged.To
	}
	return out, nil
}

// maxExtend bounds how many windows in a row extend one merged window
// (a freeze that never ends stops there).
const maxExtend = 100_000

// extend follows iv through the windows that begin before it ends.
func (f *Freeze) extend(iv Interval, loc *time.Location) (Interval, error) {
	for range maxExtend {
		// Windows open at the instant iv ends, or beginning then.
		ivs, err := f.overlapping(iv.To, iv.To.Add(time.Nanosecond), loc)
		if err != nil {
			return iv, err
		}
		grew := false
		for _, o := range ivs {
			if !o.From.After(iv.To) && o.To.After(iv.To) {
				iv.To, grew = o.To, true
			}
		}
		if !grew {
			break
		}
	}
	return iv, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// ActiveAt is the window of the freeze open at t, if any: merged with the
// windows that follow it without a gap, so To is when starts resume.
func (f *Freeze) ActiveAt(t time.Time) (Interval, bool, error) {
	ivs, err := f.Merged(t, t.Add(time.Nanosecond), 1)
	if err != nil || len(ivs) == 0 || ivs[0].From.After(t) {
		return Interval{}, false, err
	}
	return ivs[0], true, nil
}

// Next are the next n windows that begin after t (merged as Merged
// merges them), within a year and a month.
func (f *Freeze) Next(t time.Time, n int) ([]Interval, error) {
	ivs, err := f.Merged(t, t.Add(NextHorizon), n+1)
	if err != nil {
		return nil, err
	}
	if len(ivs) > 0 && !ivs[0].From.After(t) {
		ivs = ivs[1:] // open at t
	}
	if len(ivs) > n {
		ivs = ivs[:n]
	}
	return ivs, nil
}

// NextHorizon is how far Next looks.
const NextHorizon = 400 * 24 * time.Hour

// Blackout is a window of one freeze over the runbooks it selects, as
// the workflow checks it (schedule fires, sub-runbook starts): computed
// by the server, so the workflow reads no time zone and no calendar.
type Blackout struct {
	Freeze   string    `json:"freeze"`
	Reason   string    `json:"reason"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Runbooks []string  `json:"runbooks"`
}

// BlackoutAt is the blackout among bs that holds back runbook at t.
func BlackoutAt(bs []Blackout, runbook string, t time.Time) (Blackout, bool) {
	for _, b := range bs {
		if !b.From.After(t) && b.To.After(t) && slices.Contains(b.Runbooks, runbook) {
			return b, true
		}
	}
	return Blackout{}, false
}

// FreezeException is a break-glass start during a freeze: the run waits
// at an approval of the freeze's BreakGlass approvers before its first
// step.
type FreezeException struct {
	Freeze       string    `json:"freeze"`
	Reason       string    `json:"reason"` // the freeze's
	Until        time.Time `json:"until"`
	Approvers    []string  `json:"approvers"`
	MinApprovals int       `json:"minApprovals"`
	AskedBy      string    `json:"askedBy"`
	Why          string    `json:"why"` // the starter's reason
}

// ExceptionStepID is the id of the approval step of an exception: a dash
// keeps it apart from every step id a runbook can declare.
func ExceptionStepID(freeze string) string { return "freeze-" + freeze }

// WithExceptions is p with an approval step first for each exception: the
// plan the run of a break-glass start runs, and the one every reader of
// that run (votes, the inbox, its timeline) looks steps up in. p itself
// is not changed.
func WithExceptions(p *Plan, exceptions []FreezeException) *Plan {
	if len(exceptions) == 0 || p == nil {
		return p
	}
	out := *p
	out.Steps = nil
	for _, e := range exceptions {
		msg := fmt.Sprintf("Break-glass start of %s during freeze %s (until %s: %s), asked by %s: %s",
			p.Name, e.Freeze, e.Until.UTC().Format(time.RFC3339), e.Reason, e.AskedBy, e.Why)
		out.Steps = append(out.Steps, &Step{ID: ExceptionStepID(e.Freeze), Kind: StepApproval, Approval: &Approval{
			Message: LitValue(msg), Approvers: e.Approvers, MinApprovals: e.MinApprovals, OnTimeout: ApprovalTimeoutReject}})
	}
	out.Steps = append(out.Steps, p.Steps...)
	return &out
}
