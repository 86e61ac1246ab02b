package plan

import (
	"fmt"
	"slices"
	"sort"
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

// Intervals are the freeze's windows that overlap [from, to), merged
// where they touch or overlap, in order.
func (f *Freeze) Intervals(from, to time.Time) ([]Interval, error) {
	loc, err := time.LoadLocation(f.Timezone)
	if err != nil {
		return nil, fmt.Errorf("freeze %q: %w", f.Name, err)
	}
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
			out = append(out, Interval{at.UTC(), at.Add(w.Duration).UTC()})
			if len(out) > maxIntervals {
				return nil, fmt.Errorf("freeze %q: more than %d windows between %s and %s", f.Name, maxIntervals, from.Format(time.RFC3339), to.Format(time.RFC3339))
			}
		}
	}
	return merge(out), nil
}

// maxIntervals bounds what one call computes (a recurrence every minute
// over a year would be half a million windows).
const maxIntervals = 5000

func merge(in []Interval) []Interval {
	sort.Slice(in, func(i, j int) bool { return in[i].From.Before(in[j].From) })
	var out []Interval
	for _, iv := range in {
		if n := len(out); n > 0 && !iv.From.After(out[n-1].To) {
			if iv.To.After(out[n-1].To) {
				out[n-1].To = iv.To
			}
			continue
		}
		out = append(out, iv)
	}
	return out
}

// ActiveAt is the window of the freeze open at t, if any: merged with the
// windows that follow it without a gap, so To is when starts resume.
func (f *Freeze) ActiveAt(t time.Time) (Interval, bool, error) {
	ivs, err := f.Intervals(t, t.Add(freezeLookahead))
	if err != nil {
		return Interval{}, false, err
	}
	for _, iv := range ivs {
		if !iv.From.After(t) && iv.To.After(t) {
			return iv, true, nil
		}
	}
	return Interval{}, false, nil
}

// freezeLookahead is how far a window merged with its successors is
// followed.
const freezeLookahead = 400 * 24 * time.Hour

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
