package runbooks

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/opsrunbook/runbook/plan"
)

// KindFreeze is the kind of a change freeze document.
const KindFreeze = "Freeze"

// FreezeDocument is a parsed kind: Freeze file.
type FreezeDocument struct {
	Pos        plan.Pos
	APIVersion String         `yaml:"apiVersion" required:"true" doc:"Format version; always runbook/v1."`
	Kind       String         `yaml:"kind" required:"true" doc:"Always Freeze."`
	Metadata   FreezeMetadata `yaml:"metadata" required:"true" doc:"Name and description."`
	Spec       FreezeSpec     `yaml:"spec" required:"true" doc:"When the freeze holds, why, and which runbooks it holds back."`
}

// FreezeMetadata names a freeze.
type FreezeMetadata struct {
	plan.Pos
	Name        String `yaml:"name" required:"true" doc:"Unique freeze name: lowercase letters, digits and dashes, starting with a letter, at most 63 characters."`
	Description String `yaml:"description" doc:"Free text."`
}

// FreezeSpec is the body of a freeze.
type FreezeSpec struct {
	plan.Pos
	Reason     String                 `yaml:"reason" required:"true" doc:"Why starts are refused: shown in every refusal."`
	Timezone   String                 `yaml:"timezone" doc:"IANA time zone of the windows' local times and recurrences; default UTC."`
	Windows    List[*FreezeWindowDoc] `yaml:"windows" required:"true" doc:"When the freeze holds: date ranges (from, to) and recurrences (cron, duration)."`
	Runbooks   *SelectorDoc           `yaml:"runbooks" required:"true" doc:"The runbooks it holds back: by names, or by labels (all must match)."`
	Exempt     *SelectorDoc           `yaml:"exempt" doc:"Runbooks it never holds back, such as incident remediations (labels: {incident: remediation})."`
	BreakGlass *BreakGlassDoc         `yaml:"breakGlass" doc:"Lets a start ask for an exception: the run is held for these approvers' approval before its first step."`
}

// FreezeWindowDoc is one window: from and to, or cron and duration.
type FreezeWindowDoc struct {
	plan.Pos
	From     String `yaml:"from" doc:"Start: an RFC 3339 time, or a local date or date and time (2026-12-20, 2026-12-20T18:00) in the freeze's time zone."`
	To       String `yaml:"to" doc:"End (exclusive), in the same forms as from."`
	Cron     String `yaml:"cron" doc:"A recurrence: five-field cron spec of each window's start, in the freeze's time zone."`
	Duration String `yaml:"duration" doc:"How long each window of the recurrence lasts (e.g. 64h, 2d)."`
}

// SelectorDoc picks runbooks.
type SelectorDoc struct {
	plan.Pos
	Names  List[String] `yaml:"names" doc:"Runbook names."`
	Labels Map[String]  `yaml:"labels" doc:"Labels a runbook must all have (metadata.labels)."`
}

// BreakGlassDoc is who may grant an exception.
type BreakGlassDoc struct {
	plan.Pos
	Approvers    List[String] `yaml:"approvers" required:"true" doc:"Who approves an exception: user names and group:NAME."`
	MinApprovals Int          `yaml:"minApprovals" doc:"Distinct approvals needed (default 1)."`
}

// DocumentKind is the kind a YAML document says it is ("" when it cannot
// tell): a set of files may mix runbooks and freezes.
func DocumentKind(src []byte) string {
	var head struct {
		Kind string `yaml:"kind"`
	}
	if yaml.NewDecoder(bytes.NewReader(src)).Decode(&head) != nil {
		return ""
	}
	return head.Kind
}

// BuildFreeze parses, checks and compiles a freeze document; the plan is
// nil when there are errors, all of which are reported.
func BuildFreeze(file string, src []byte) (*plan.Freeze, Diagnostics) {
	r := &reporter{file: file}
	doc := &FreezeDocument{}
	if !decodeFile(r, src, reflect.ValueOf(doc).Elem(), "freeze") {
		return nil, r.diags
	}
	f := checkFreeze(r, doc)
	r.diags.Sort()
	if r.diags.HasErrors() {
		return nil, r.diags
	}
	return f, r.diags
}

func checkFreeze(r *reporter, d *FreezeDocument) *plan.Freeze {
	if d.APIVersion.Set && d.APIVersion.Value != APIVersion {
		r.hinted(CodeInvalidValue, d.APIVersion.Pos, "apiVersion", "use "+APIVersion, "unsupported apiVersion %q", d.APIVersion.Value)
	}
	if d.Kind.Set && d.Kind.Value != KindFreeze {
		r.errorf(CodeInvalidValue, d.Kind.Pos, "kind", "kind must be Freeze, got %q", d.Kind.Value)
	}
	if n := d.Metadata.Name; n.Set && !runbookNameRe.MatchString(n.Value) {
		r.errorf(CodeInvalidValue, n.Pos, "metadata.name", "name %q must be lowercase letters, digits and dashes, start with a letter, at most 63 characters", n.Value)
	}
	s := d.Spec
	f := &plan.Freeze{Name: d.Metadata.Name.Value, Description: d.Metadata.Description.Value, Reason: strings.TrimSpace(s.Reason.Value), Timezone: "UTC"}
	if s.Reason.Set && f.Reason == "" {
		r.errorf(CodeRequired, s.Reason.Pos, "spec.reason", "reason must not be empty")
	}
	loc := time.UTC
	if s.Timezone.Set {
		l, err := time.LoadLocation(s.Timezone.Value)
		if err != nil || s.Timezone.Value == "" || s.Timezone.Value == "Local" {
			r.hinted(CodeInvalidValue, s.Timezone.Pos, "spec.timezone", "an IANA name such as Europe/Berlin or America/New_York", "unknown time zone %q", s.Timezone.Value)
		} else {
			loc, f.Timezone = l, s.Timezone.Value
		}
	}
	if s.Windows.Set && len(s.Windows.Items) == 0 {
		r.errorf(CodeRequired, s.Windows.Pos, "spec.windows", "a freeze needs at least one window")
	}
	var valid []int // indexes of the valid windows in the document
	for i, w := range s.Windows.Items {
		if fw, ok := checkWindow(r, w, plan.Path("spec.windows").Index(i), loc); ok {
			f.Windows = append(f.Windows, fw)
			valid = append(valid, i)
		}
	}
	warnOverlaps(r, s.Windows.Items, valid, f.Windows)
	if s.Runbooks != nil {
		f.Runbooks = checkSelector(r, s.Runbooks, "spec.runbooks")
		if !s.Runbooks.Names.Set && !s.Runbooks.Labels.Set {
			r.errorf(CodeRequired, s.Runbooks.Pos, "spec.runbooks", "select runbooks by names or labels")
		}
	}
	if s.Exempt != nil {
		f.Exempt = checkSelector(r, s.Exempt, "spec.exempt")
	}
	if bg := s.BreakGlass; bg != nil {
		f.BreakGlass = &plan.BreakGlass{MinApprovals: 1}
		for i, a := range bg.Approvers.Items {
			if strings.TrimSpace(a.Value) == "" || a.Value == "group:" {
				r.errorf(CodeRequired, a.Pos, plan.Path("spec.breakGlass.approvers").Index(i), "approver must not be empty")
				continue
			}
			f.BreakGlass.Approvers = append(f.BreakGlass.Approvers, a.Value)
		}
		if bg.Approvers.Set && len(bg.Approvers.Items) == 0 {
			r.errorf(CodeRequired, bg.Approvers.Pos, "spec.breakGlass.approvers", "break-glass needs at least one approver")
		}
		if bg.MinApprovals.Set {
			if bg.MinApprovals.Value < 1 {
				r.errorf(CodeInvalidValue, bg.MinApprovals.Pos, "spec.breakGlass.minApprovals", "minApprovals must be at least 1")
			}
			f.BreakGlass.MinApprovals = int(bg.MinApprovals.Value)
		}
	}
	return f
}

func checkWindow(r *reporter, w *FreezeWindowDoc, path plan.Path, loc *time.Location) (plan.FreezeWindow, bool) {
	var fw plan.FreezeWindow
	ranged, recurring := w.From.Set || w.To.Set, w.Cron.Set || w.Duration.Set
	switch {
	case ranged && recurring:
		r.errorf(CodeInvalidValue, w.Pos, path, "a window is a date range (from, to) or a recurrence (cron, duration), not both")
		return fw, false
	case ranged:
		from, okFrom := freezeTime(r, w.From, path.Field("from"), loc)
		to, okTo := freezeTime(r, w.To, path.Field("to"), loc)
		if !w.From.Set || !w.To.Set {
			r.errorf(CodeRequired, w.Pos, path, "a date range needs both from and to")
			return fw, false
		}
		if !okFrom || !okTo {
			return fw, false
		}
		if !to.After(from) {
			r.errorf(CodeInvalidValue, w.To.Pos, path.Field("to"), "to (%s) must be after from (%s)", to.Format(time.RFC3339), from.Format(time.RFC3339))
			return fw, false
		}
		fw.From, fw.To = &from, &to
		return fw, true
	case recurring:
		if !w.Cron.Set || !w.Duration.Set {
			r.errorf(CodeRequired, w.Pos, path, "a recurrence needs both cron and duration")
			return fw, false
		}
		ok := true
		if _, err := plan.FreezeCron.Parse(w.Cron.Value); err != nil {
			r.hinted(CodeInvalidValue, w.Cron.Pos, path.Field("cron"), "five fields (minute hour day-of-month month day-of-week, e.g. \"0 16 * * FRI\") or @daily, @weekly, @monthly", "invalid cron spec %q", w.Cron.Value)
			ok = false
		}
		d, err := plan.ParseDuration(w.Duration.Value)
		if err != nil || d <= 0 {
			r.errorf(CodeInvalidValue, w.Duration.Pos, path.Field("duration"), "duration %q must be a positive duration such as 64h or 2d", w.Duration.Value)
			ok = false
		}
		fw.Cron, fw.Duration = w.Cron.Value, d
		return fw, ok
	}
	r.errorf(CodeRequired, w.Pos, path, "a window needs from and to, or cron and duration")
	return fw, false
}

// freezeTime reads an RFC 3339 time, or a local date or date and time in loc.
func freezeTime(r *reporter, s String, path plan.Path, loc *time.Location) (time.Time, bool) {
	if !s.Set {
		return time.Time{}, false
	}
	if t, err := time.Parse(time.RFC3339, s.Value); err == nil {
		return t.UTC(), true
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s.Value, loc); err == nil {
			return t.UTC(), true
		}
	}
	r.hinted(CodeInvalidValue, s.Pos, path, "2026-12-20, 2026-12-20T18:00 (in the freeze's time zone) or 2026-12-20T18:00:00+01:00", "%q is not a date or time", s.Value)
	return time.Time{}, false
}

// warnOverlaps warns of date ranges that overlap one another, and of a
// recurrence whose windows overlap the next: harmless (they merge), but
// rarely what was meant.
func warnOverlaps(r *reporter, docs []*FreezeWindowDoc, valid []int, windows []plan.FreezeWindow) {
	for k, a := range windows {
		i := valid[k]
		path := plan.Path("spec.windows").Index(i)
		if a.Cron != "" {
			sched, _ := plan.FreezeCron.Parse(a.Cron)
			first := sched.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			if next := sched.Next(first); !next.IsZero() && next.Sub(first) < a.Duration {
				r.warnf(CodeInvalidValue, docs[i].Duration.Pos, path.Field("duration"), "each window (%s) lasts longer than the time between two starts (%s): the windows overlap into one", plan.FormatDuration(a.Duration), plan.FormatDuration(next.Sub(first)))
			}
			continue
		}
		for m := range k {
			b, j := windows[m], valid[m]
			if b.Cron == "" && a.From.Before(*b.To) && b.From.Before(*a.To) {
				r.warnf(CodeInvalidValue, docs[i].Pos, path, "this window overlaps spec.windows[%d] (line %d)", j, docs[j].Pos.Line)
			}
		}
	}
}

func checkSelector(r *reporter, d *SelectorDoc, path plan.Path) plan.Selector {
	var s plan.Selector
	for i, n := range d.Names.Items {
		if !runbookNameRe.MatchString(n.Value) {
			r.errorf(CodeInvalidValue, n.Pos, path.Field("names").Index(i), "%q is not a runbook name", n.Value)
			continue
		}
		if !slices.Contains(s.Names, n.Value) {
			s.Names = append(s.Names, n.Value)
		}
	}
	for _, e := range d.Labels.Entries {
		if s.Labels == nil {
			s.Labels = map[string]string{}
		}
		s.Labels[e.Key] = e.Value.Value
	}
	return s
}

// FreezeProblem says why a freeze refuses a start: the freeze, its reason
// and when starts resume.
func FreezeProblem(runbook string, f *plan.Freeze, until time.Time) string {
	return fmt.Sprintf("runbook %s is frozen by freeze %s until %s: %s", runbook, f.Name, until.UTC().Format(time.RFC3339), f.Reason)
}

// PreviewFreeze is a freeze that holds back a runbook now (Active, until
// To) or in its next window.
type PreviewFreeze struct {
	Name   string    `json:"name"`
	Reason string    `json:"reason"`
	Active bool      `json:"active"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	// BreakGlass are who may let a run start during it (none: starts are
	// refused).
	BreakGlass []string `json:"breakGlass,omitempty"`
}

// FreezeLookahead is how far ahead a preview looks for a freeze's next
// window.
const FreezeLookahead = 30 * 24 * time.Hour

// FreezesFor are the freezes among fs that hold back p now or within
// FreezeLookahead, in name order.
func FreezesFor(p *plan.Plan, fs []*plan.Freeze, now time.Time) []PreviewFreeze {
	var out []PreviewFreeze
	for _, f := range fs {
		if !f.Selects(p.Name, p.Labels) {
			continue
		}
		var pf PreviewFreeze
		if iv, active, err := f.ActiveAt(now); err == nil && active {
			pf = PreviewFreeze{Name: f.Name, Reason: f.Reason, From: iv.From, To: iv.To, Active: true}
		} else if next, err := f.Next(now, 1); err == nil && len(next) == 1 && next[0].From.Before(now.Add(FreezeLookahead)) {
			pf = PreviewFreeze{Name: f.Name, Reason: f.Reason, From: next[0].From, To: next[0].To}
		} else {
			continue
		}
		if f.BreakGlass != nil {
			pf.BreakGlass = f.BreakGlass.Approvers
		}
		out = append(out, pf)
	}
	slices.SortFunc(out, func(a, b PreviewFreeze) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (pf PreviewFreeze) String() string {
	s := fmt.Sprintf("%s: next window %s to %s: %s", pf.Name, pf.From.UTC().Format(time.RFC3339), pf.To.UTC().Format(time.RFC3339), pf.Reason)
	if pf.Active {
		s = fmt.Sprintf("%s: ACTIVE until %s, starts are refused: %s", pf.Name, pf.To.UTC().Format(time.RFC3339), pf.Reason)
	}
	if len(pf.BreakGlass) > 0 {
		s += " (break-glass: approval by " + strings.Join(pf.BreakGlass, ", ") + ")"
	}
	return s
}
