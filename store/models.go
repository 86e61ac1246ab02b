package store

import "time"

var models = []any{&RunbookVersion{}, &Run{}, &StepEvent{}, &Vote{}, &Schedule{}, &Token{}, &AuditEntry{}, &Setting{}, &Delivery{}, &Session{}, &Freeze{}, &Incident{}, &IncidentEvent{}, &IncidentRun{}}

// RunbookVersion is one immutable version of a runbook: a new one is made
// only when the content changes.
type RunbookVersion struct {
	ID        uint      `gorm:"primaryKey" json:"-"`
	Name      string    `gorm:"size:63;not null;uniqueIndex:rb_name_version;uniqueIndex:rb_name_hash" json:"name"`
	Version   int       `gorm:"not null;uniqueIndex:rb_name_version" json:"version"`
	Hash      string    `gorm:"size:64;not null;uniqueIndex:rb_name_hash" json:"hash"`
	YAML      string    `gorm:"type:text;not null" json:"yaml"`
	Plan      []byte    `gorm:"not null" json:"-"` // the compiled plan, as JSON
	Title     string    `json:"title,omitempty"`
	Author    string    `gorm:"size:200" json:"author"`
	CreatedAt time.Time `json:"createdAt"`
}

// RunIDSize is what a run id column holds: Temporal's longest workflow
// id (limit.maxIDLength, 1000 by default). A run's id is at most 90
// characters (a 63-character name, a dash, 26), but a vote's is the id of
// the workflow that holds the approval, a sub-runbook run
// (<run>.<step>.<item>, nested as deep as runbooks call runbooks).
const RunIDSize = 1000

// AuditTargetSize is what an audit entry's target holds: a vote's is
// RUN/STEP, RUN a sub-runbook run's id (up to RunIDSize).
const AuditTargetSize = RunIDSize + 64

// Run is one execution of a runbook version.
type Run struct {
	ID            string `gorm:"primaryKey;size:1000" json:"id"`
	Runbook       string `gorm:"size:63;not null;index:run_runbook_created" json:"runbook"`
	Version       int    `gorm:"not null" json:"version"`
	Status        string `gorm:"size:20;not null;index" json:"status"`
	Params        []byte `json:"-"` // JSON
	Trigger       string `gorm:"size:20;not null;index" json:"trigger"`
	TriggerDetail string `gorm:"size:500" json:"triggerDetail,omitempty"`
	TriggeredBy   string `gorm:"size:200;not null" json:"triggeredBy"`
	// StartedBy is the authenticated caller (a user, system:schedule or
	// system:webhook): the starter approvals refuse, and the audit's actor.
	StartedBy      string  `gorm:"size:200;not null;default:''" json:"startedBy"`
	IdempotencyKey *string `gorm:"size:200;uniqueIndex" json:"-"`
	ConcurrencyKey string  `gorm:"size:300;index" json:"concurrencyKey,omitempty"`
	// Holds is "runbook/key" while a run with a concurrency key is
	// running, NULL otherwise: unique, so two starts cannot both hold it.
	Holds     *string `gorm:"size:400;uniqueIndex" json:"-"`
	Error     string  `gorm:"type:text" json:"error,omitempty"`
	ErrorType string  `gorm:"size:100" json:"errorType,omitempty"`
	// FailedStep is the step whose failure failed the run.
	FailedStep string     `gorm:"size:63;not null;default:''" json:"failedStep,omitempty"`
	Outputs    []byte     `json:"-"` // JSON
	CreatedAt  time.Time  `gorm:"index:run_runbook_created" json:"createdAt"`
	EndedAt    *time.Time `json:"endedAt,omitempty"`
	// Recorded is the length of the final timeline the step records hold,
	// once the run ended and it was written (0 before): views of the run
	// then read the records, never Temporal.
	Recorded int `gorm:"not null;default:0" json:"-"`
	// Exceptions are the break-glass exceptions of freezes this run
	// started under ([]plan.FreezeException as JSON; none: NULL): it waits
	// for their approvals before its first step.
	Exceptions []byte `json:"-"`
	Handovers  int    `gorm:"not null;default:0" json:"-"`
	// RerunOf is the run this one reruns (POST /api/v1/runs/:id/rerun),
	// RerunFrom the step it resumed from ("" from the top), RerunReason why
	// (StartedBy asked).
	RerunOf     string `gorm:"size:1000;not null;default:'';index" json:"rerunOf,omitempty"`
	RerunFrom   string `gorm:"size:100;not null;default:''" json:"rerunFrom,omitempty"`
	RerunReason string `gorm:"type:text" json:"rerunReason,omitempty"`
}

// StepEvent is a step's current state in a run's timeline (one row per
// step, and per item inside loops), kept current while the run goes.
type StepEvent struct {
	ID     uint   `gorm:"primaryKey" json:"-"`
	RunID  string `gorm:"size:1000;not null;uniqueIndex:step_run_step_item" json:"runId"`
	StepID string `gorm:"size:63;not null;uniqueIndex:step_run_step_item" json:"step"`
	// Item is -1 outside loops. No column default: GORM writes a column's
	// default for a zero value, and item 0 would be recorded as -1.
	Item      int        `gorm:"not null;uniqueIndex:step_run_step_item" json:"item"`
	Loop      string     `gorm:"size:63;not null;default:''" json:"loop,omitempty"`
	Phase     string     `gorm:"size:20;not null;default:''" json:"phase,omitempty"`
	Kind      string     `gorm:"size:20" json:"kind"`
	Status    string     `gorm:"size:20;not null" json:"status"`
	Attempts  int        `json:"attempts"`
	StartedAt *time.Time `json:"startedAt,omitempty"`
	EndedAt   *time.Time `json:"endedAt,omitempty"`
	Outputs   []byte     `json:"-"` // JSON
	Error     string     `gorm:"type:text" json:"error,omitempty"`
	ErrorType string     `gorm:"size:100" json:"errorType,omitempty"`
	// Detail is the rest of the timeline entry, as JSON: an approval's
	// message, approvers and votes, a compensation's times and error.
	Detail    []byte    `json:"-"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Vote is an approval vote, as the audit trail of approvals.
type Vote struct {
	ID       uint   `gorm:"primaryKey" json:"-"`
	RunID    string `gorm:"size:1000;not null;index" json:"runId"`
	StepID   string `gorm:"size:63;not null" json:"step"`
	Item     int    `gorm:"not null" json:"item"` // -1 outside loops; no default (see StepEvent.Item)
	User     string `gorm:"size:200;not null" json:"user"`
	Decision string `gorm:"size:10;not null" json:"decision"`
	Comment  string `gorm:"type:text" json:"comment,omitempty"`
	// Status is pending from before the run is asked to count the vote
	// until it has (counted); a vote the run refuses is removed.
	Status string    `gorm:"size:10;not null;default:counted;index" json:"status"`
	Nonce  string    `gorm:"size:64;index" json:"-"` // of the vote's seal
	At     time.Time `json:"at"`
}

// Schedule mirrors a runbook's schedule as registered in Temporal.
type Schedule struct {
	ID        uint      `gorm:"primaryKey" json:"-"`
	Runbook   string    `gorm:"size:63;not null;uniqueIndex:sched_runbook_name" json:"runbook"`
	Name      string    `gorm:"size:63;not null;uniqueIndex:sched_runbook_name" json:"name"`
	Cron      string    `gorm:"size:200;not null" json:"cron"`
	Timezone  string    `gorm:"size:64;not null" json:"timezone"`
	Overlap   string    `gorm:"size:20;not null" json:"overlap"`
	Paused    bool      `json:"paused"`
	Version   int       `json:"version"` // the runbook version it starts
	UpdatedAt time.Time `json:"updatedAt"`
}

// Token is an API token; only a hash of the secret is stored.
type Token struct {
	ID         uint       `gorm:"primaryKey" json:"id"`
	Hash       string     `gorm:"size:64;not null;uniqueIndex" json:"-"`
	Prefix     string     `gorm:"size:16;not null" json:"prefix"` // shown to tell tokens apart
	User       string     `gorm:"size:200;not null;index" json:"user"`
	Roles      string     `gorm:"size:200;not null" json:"-"` // comma-separated
	Groups     string     `gorm:"size:1000" json:"-"`         // comma-separated
	CreatedAt  time.Time  `json:"createdAt"`
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty"`
	RevokedAt  *time.Time `json:"revokedAt,omitempty"`
	ExpiresAt  *time.Time `json:"expiresAt,omitempty"` // nil: does not expire
}

// AuditEntry records a write or a refused attempt at one: who did what to
// what, when, and whether it was done. Entries are append-only: the store
// has no path that changes or removes one, and the database refuses it
// (see audit.go).
type AuditEntry struct {
	ID     uint      `gorm:"primaryKey" json:"id"`
	At     time.Time `gorm:"index" json:"at"`
	Actor  string    `gorm:"size:200;not null;index" json:"actor"`
	Action string    `gorm:"size:60;not null;index" json:"action"` // one of AuditActions
	Target string    `gorm:"size:1064" json:"target"`              // AuditTargetSize
	// Run and Runbook are what the entry is about, for filtering: the
	// recorded run (the root run for a sub-runbook's vote) and its runbook.
	Run     string `gorm:"size:120;not null;default:'';index" json:"run,omitempty"`
	Runbook string `gorm:"size:63;not null;default:'';index" json:"runbook,omitempty"`
	Outcome string `gorm:"size:10;not null;default:ok" json:"outcome"` // ok or refused
	Reason  string `gorm:"type:text" json:"reason,omitempty"`          // why it was refused
	Detail  string `gorm:"type:text" json:"detail,omitempty"`          // JSON, never secrets
}
