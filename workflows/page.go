package workflows

// A timeline grows with a forEach's items (one entry per body step and
// item): 10,000 items of two steps are 20,000 entries, more than the 2 MB
// Temporal allows a query result. The status query returns a page.

// StatusPage is the optional argument of the status query: the entries of
// the timeline from Offset, at most Limit of them (0: DefaultStepsLimit).
// Without it the query returns the whole timeline, as it did before pages.
type StatusPage struct {
	Offset int `json:"offset"`
	Limit  int `json:"limit"`
}

// Limits of a page of the timeline.
const (
	DefaultStepsLimit = 500
	MaxStepsLimit     = 2000
)

// query returns a copy of the run's status and a page of its timeline.
func (r *run) query(page *StatusPage) (*Status, error) {
	s := *r.status
	s.StepsTotal = len(r.timeline)
	from, to := 0, len(r.timeline)
	if page != nil {
		limit := page.Limit
		if limit <= 0 {
			limit = DefaultStepsLimit
		}
		from = min(max(page.Offset, 0), len(r.timeline))
		to = min(from+min(limit, MaxStepsLimit), len(r.timeline))
	}
	s.StepsOffset = from
	s.Steps = make([]StepState, to-from)
	for i, st := range r.timeline[from:to] {
		s.Steps[i] = *st
	}
	return &s, nil
}
