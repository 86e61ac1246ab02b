package web

import (
	"time"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/runbooks"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/workflows"
)

// The API's answers, as the console reads them.

type runView struct {
	store.Run
	Params      map[string]any         `json:"params"`
	Outputs     map[string]any         `json:"outputs"`
	Steps       []workflows.StepState  `json:"steps"`
	StepsTotal  int                    `json:"stepsTotal"`
	Stale       bool                   `json:"stale"`
	VersionHash string                 `json:"versionHash"`
	Reruns      []string               `json:"reruns"`
	Exceptions  []plan.FreezeException `json:"exceptions"`
	Incidents   []uint                 `json:"incidents"`
}

type runList struct {
	Runs []runView `json:"runs"`
	Next string    `json:"next"`
}

type pendingApproval struct {
	Kind      string   `json:"kind"`
	Run       string   `json:"run"`
	Parent    string   `json:"parentRun"`
	Runbook   string   `json:"runbook"`
	Step      string   `json:"step"`
	Item      *int     `json:"item"`
	Message   string   `json:"message"`
	Approvers []string `json:"approvers"`
	Votes     int      `json:"votes"`
	Needed    int      `json:"needed"`
	Mine      bool     `json:"mine"`
	Deciders  []string `json:"deciders"`
	Error     string   `json:"error"`
	ErrorType string   `json:"errorType"`

	// What the inbox adds from the run: when it started waiting, and when
	// the approval times out (nil: no timeout, or not known).
	Since    *time.Time `json:"-"`
	Deadline *time.Time `json:"-"`
}

type approvalList struct {
	Approvals []pendingApproval `json:"approvals"`
}

type runbookView struct {
	Name      string     `json:"name"`
	Version   int        `json:"version"`
	Hash      string     `json:"hash"`
	Title     string     `json:"title"`
	Author    string     `json:"author"`
	CreatedAt string     `json:"createdAt"`
	YAML      string     `json:"yaml"`
	Plan      *plan.Plan `json:"plan"`
}

type scheduleView struct {
	Runbook  string      `json:"runbook"`
	Name     string      `json:"name"`
	Cron     string      `json:"cron"`
	Timezone string      `json:"timezone"`
	Overlap  string      `json:"overlap"`
	Paused   bool        `json:"paused"`
	Next     []time.Time `json:"next"`
}

type diffView struct {
	From    int    `json:"from"`
	To      int    `json:"to"`
	Unified string `json:"unified"`
}

type logLine struct {
	Seq     int64     `json:"seq"`
	At      time.Time `json:"at"`
	Step    string    `json:"step"`
	Item    *int      `json:"item"`
	Attempt int       `json:"attempt"`
	Stream  string    `json:"stream"`
	Text    string    `json:"text"`
}

type logPage struct {
	Lines []logLine `json:"lines"`
	Ended bool      `json:"ended"`
}

// runPreview is GET /api/v1/runs/:id/plan's answer, and (with Version)
// POST /api/v1/runbooks/:name/plan's.
type runPreview struct {
	Run     string `json:"run"`
	Version int    `json:"version"`
	Stale   bool   `json:"stale"`
	runbooks.Preview
}

// freezeView is a freeze as GET /api/v1/freezes lists it.
type freezeView struct {
	Name       string          `json:"name"`
	Reason     string          `json:"reason"`
	Active     bool            `json:"active"`
	Until      *time.Time      `json:"until"`
	Next       []plan.Interval `json:"next"`
	BreakGlass *struct {
		Approvers []string `json:"approvers"`
	} `json:"breakGlass"`
}
