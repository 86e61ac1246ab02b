package plan

import (
	"encoding/json"
	"fmt"
	"time"
)

// Version is the version of the Plan layout a compiler writes now;
// MinVersion is the oldest the interpreter still runs (stored versions and
// running workflows carry plans of every version since). The interpreter
// refuses the others.
//
//   - 1: the first layout.
//   - 2: action steps and compensations carry their ActionFacts.
const (
	Version    = 2
	MinVersion = 1
)

// Plan is a compiled runbook: immutable, JSON-serialisable, and the whole
// input the interpreter needs. Expressions are kept as checked sources.
type Plan struct {
	Version     int               `json:"planVersion"`
	Name        string            `json:"name"`
	Title       string            `json:"title,omitempty"`
	Description string            `json:"description,omitempty"`
	Owners      []string          `json:"owners,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	File        string            `json:"file,omitempty"`
	Hash        string            `json:"hash"` // sha256 of the source, hex
	Params      []Param           `json:"params,omitempty"`
	Secrets     []string          `json:"secrets,omitempty"`
	Timeout     Duration          `json:"timeout,omitzero"`
	Vars        []Var             `json:"vars,omitempty"`
	Concurrency *Concurrency      `json:"concurrency,omitempty"`
	Schedules   []Schedule        `json:"schedules,omitempty"`
	Triggers    []Trigger         `json:"triggers,omitempty"`
	Steps       []*Step           `json:"steps"`
	OnFailure   []*Step           `json:"onFailure,omitempty"`
	Finally     []*Step           `json:"finally,omitempty"`
	Outputs     []Output          `json:"outputs,omitempty"`
}

// Param is a declared param with its constraints.
type Param struct {
	Name        string   `json:"name"`
	Type        *Type    `json:"type"`
	Description string   `json:"description,omitempty"`
	Required    bool     `json:"required,omitempty"`
	Default     any      `json:"default,omitempty"`
	HasDefault  bool     `json:"hasDefault,omitempty"`
	Enum        []any    `json:"enum,omitempty"`
	Pattern     string   `json:"pattern,omitempty"`
	Min         *float64 `json:"min,omitempty"`
	Max         *float64 `json:"max,omitempty"`
	Fixed       bool     `json:"fixed,omitempty"` // the default is the only value
}

// Concurrency limits concurrent runs per key.
type Concurrency struct {
	Key        *Expr          `json:"key,omitempty"` // nil: the runbook name
	OnConflict ConflictPolicy `json:"onConflict"`
}

// Schedule is a validated schedule.
type Schedule struct {
	Name          string         `json:"name"`
	Cron          string         `json:"cron"`
	Timezone      string         `json:"timezone"`
	Params        map[string]any `json:"params,omitempty"`
	Overlap       Overlap        `json:"overlap"`
	CatchupWindow Duration       `json:"catchupWindow,omitempty"`
	Paused        bool           `json:"paused,omitempty"`
}

// Trigger is an event trigger.
type Trigger struct {
	Kind   TriggerKind      `json:"kind"`
	Match  *Expr            `json:"match,omitempty"` // nil: every event
	Params map[string]*Expr `json:"params,omitempty"`
	// OnResolved (alertmanager only) is what happens to the runs it
	// started for an incident still running when the incident's alert
	// group resolves: OnResolvedFinish (or "") or OnResolvedCancel.
	OnResolved string `json:"onResolved,omitempty"`
	// Webhooks only.
	Name            string   `json:"name,omitempty"`
	Secret          string   `json:"secret,omitempty"`
	SignatureHeader string   `json:"signatureHeader,omitempty"`
	SignedHeaders   []string `json:"signedHeaders,omitempty"` // lower-case, in the order signed
	// Incident, when set, is the incident a matching delivery reports.
	Incident *TriggerIncident `json:"incident,omitempty"`
}

// TriggerIncident is the incident a webhook delivery reports: a key (per
// webhook name), its title, severity and service, and whether it says the
// problem is resolved; nil expressions are unset.
type TriggerIncident struct {
	Key      *Expr `json:"key"`
	Title    *Expr `json:"title,omitempty"`
	Severity *Expr `json:"severity,omitempty"`
	Service  *Expr `json:"service,omitempty"`
	Resolved *Expr `json:"resolved,omitempty"`
}

// Var is a named value computed by spec.vars or a set step.
type Var struct {
	Name string `json:"name"`
	Expr *Expr  `json:"expr"`
	Type *Type  `json:"type"`
}

// Output is a named run output.
type Output struct {
	Name string `json:"name"`
	Expr *Expr  `json:"expr"`
	Type *Type  `json:"type"`
}

// StepKind names what a step does.
type StepKind string

// The step kinds.
const (
	StepAction   StepKind = "action"
	StepApproval StepKind = "approval"
	StepParallel StepKind = "parallel"
	StepGroup    StepKind = "group"
	StepForEach  StepKind = "forEach"
	StepRunbook  StepKind = "runbook"
	StepSleep    StepKind = "sleep"
	StepWaitFor  StepKind = "waitFor"
	StepAssert   StepKind = "assert"
	StepSet      StepKind = "set"
	StepExit     StepKind = "exit"
)

// Step is a compiled step. Fields beyond the common ones are set
// according to Kind.
type Step struct {
	ID              string   `json:"id"`
	Kind            StepKind `json:"kind"`
	Name            string   `json:"name,omitempty"`
	Description     string   `json:"description,omitempty"`
	Line            int      `json:"line"`
	If              *Expr    `json:"if,omitempty"`
	ContinueOnError bool     `json:"continueOnError,omitempty"`
	// NotResumable (resumable: false) makes a rerun resumed past the step
	// run it again rather than reuse what the earlier run recorded.
	NotResumable bool `json:"notResumable,omitempty"`
	// OnStepFailure, when set, parks a failure for a human decision.
	OnStepFailure *OnStepFailure `json:"onStepFailure,omitempty"`
	// Outputs is the type of steps.<id>.outputs.
	Outputs *Type `json:"outputs,omitempty"`

	Action string `json:"action,omitempty"`
	ActionFacts
	With       map[string]*Value `json:"with,omitempty"`
	Timeout    Duration          `json:"timeout,omitzero"`
	Retry      *Retry            `json:"retry,omitempty"`
	Repeat     *Repeat           `json:"repeat,omitempty"`
	Compensate *Compensate       `json:"compensate,omitempty"`

	Approval *Approval `json:"approval,omitempty"`

	// Steps is the body of a group or forEach, or the branches of a parallel.
	Steps    []*Step `json:"steps,omitempty"`
	FailFast bool    `json:"failFast,omitempty"`

	ForEach        *Expr      `json:"forEach,omitempty"`
	As             string     `json:"as,omitempty"`
	MaxConcurrency Count      `json:"maxConcurrency,omitzero"`
	MaxErrors      *MaxErrors `json:"maxErrors,omitempty"`
	BatchSize      Count      `json:"batchSize,omitzero"`
	OnError        []*Step    `json:"onError,omitempty"`

	Runbook *SubRunbook `json:"runbook,omitempty"`
	Sleep   Duration    `json:"sleep,omitzero"`
	WaitFor *WaitFor    `json:"waitFor,omitempty"`
	Assert  *Assert     `json:"assert,omitempty"`
	Set     []Var       `json:"set,omitempty"`
	Exit    *Exit       `json:"exit,omitempty"`
}

// MaxErrors is a forEach's failure budget: a count (fixed or an
// expression), or a percentage of the items.
type MaxErrors struct {
	Count   Count   `json:"count,omitzero"`
	Percent float64 `json:"percent,omitempty"`
}

// Assert fails the run unless That holds.
type Assert struct {
	That    *Expr  `json:"that"`
	Message *Value `json:"message,omitempty"`
}

// Exit ends the run successfully.
type Exit struct {
	Message *Value `json:"message,omitempty"`
}

// Retry is an action's retry policy with defaults filled in.
type Retry struct {
	MaxAttempts     int      `json:"maxAttempts"`
	InitialInterval Duration `json:"initialInterval"`
	Backoff         float64  `json:"backoff"`
	MaxInterval     Duration `json:"maxInterval,omitzero"`
	NonRetryable    []string `json:"nonRetryable,omitempty"`
}

// Repeat runs an action until a condition holds.
type Repeat struct {
	Until   *Expr    `json:"until"`
	Every   Duration `json:"every"`
	Timeout Duration `json:"timeout,omitzero"`
}

// ActionFacts is what the interpreter needs to know of an action step's
// action. The compiler copies it from the action's spec into the plan (from
// plan version 2), so a run replays the same whatever a later release's
// catalog says: a spec that flips Local changes new plans only.
type ActionFacts struct {
	// Local runs the action as a Temporal local activity when the run
	// allows it.
	Local bool `json:"local,omitempty"`
	// Heartbeats gives the action a heartbeat timeout.
	Heartbeats bool `json:"heartbeats,omitempty"`
}

// Compensate is the undo of an action step: an action, or steps.
type Compensate struct {
	Action string `json:"action,omitempty"`
	ActionFacts
	With  map[string]*Value `json:"with,omitempty"`
	Steps []*Step           `json:"steps,omitempty"`
}

// Approval is an approval step.
type Approval struct {
	Message   *Value   `json:"message,omitempty"`
	Approvers []string `json:"approvers,omitempty"`
	// ApproversExpr, when set, gives the approvers at run start instead.
	ApproversExpr     *Expr             `json:"approversExpr,omitempty"`
	MinApprovals      int               `json:"minApprovals"`
	AllowSelfApproval bool              `json:"allowSelfApproval,omitempty"`
	Timeout           Duration          `json:"timeout,omitzero"`
	OnTimeout         ApprovalTimeout   `json:"onTimeout"`
	EscalateTo        []string          `json:"escalateTo,omitempty"`
	Inputs            []Param           `json:"inputs,omitempty"`
	Notify            map[string]*Value `json:"notify,omitempty"` // notify action inputs: url, text
	RemindEvery       Duration          `json:"remindEvery,omitzero"`
	// Quorum, when set, is how many approvals each group must give
	// besides MinApprovals in all; its groups are in Approvers too.
	Quorum []GroupQuorum `json:"quorum,omitempty"`
}

// GroupQuorum is one group's share of an approval: at least Min of its
// members approve, each person counted for one group only.
type GroupQuorum struct {
	Group string `json:"group"`
	Min   int    `json:"min"`
}

// SubRunbook runs a child runbook whose plan is embedded.
type SubRunbook struct {
	Name   string            `json:"name"`
	Params map[string]*Value `json:"params,omitempty"`
	Plan   *Plan             `json:"plan,omitempty"`
}

// WaitFor waits for an event.
type WaitFor struct {
	Event     string      `json:"event"`
	Timeout   Duration    `json:"timeout,omitzero"`
	OnTimeout WaitTimeout `json:"onTimeout"`
	Senders   []string    `json:"senders,omitempty"`
}

// Expr is a checked CEL expression and where it came from.
type Expr struct {
	Src string `json:"src"`
	Pos Pos    `json:"pos"`
	// Steps lists the step ids the expression reads, sorted.
	Steps []string `json:"steps,omitempty"`
	// Secrets lists the secret names it reads; such expressions are
	// evaluated inside the activity only.
	Secrets []string `json:"secrets,omitempty"`
}

// Duration is a fixed duration, written "15m" or "7d" in JSON, or an
// expression evaluated when the step starts, written {"expr": ...}.
type Duration struct {
	D    time.Duration
	Expr *Expr
}

// Fixed returns a fixed Duration.
func Fixed(d time.Duration) Duration { return Duration{D: d} }

// String renders the duration as written: "15m", or "${{ expr }}".
func (d Duration) String() string {
	if d.Expr != nil {
		return "${{ " + d.Expr.Src + " }}"
	}
	return FormatDuration(d.D)
}

// IsZero reports whether the duration was not given.
func (d Duration) IsZero() bool { return d.D == 0 && d.Expr == nil }

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) {
	if d.Expr != nil {
		return json.Marshal(map[string]*Expr{"expr": d.Expr})
	}
	return json.Marshal(FormatDuration(d.D))
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := ParseDuration(s)
		if err != nil {
			return err
		}
		*d = Duration{D: v}
		return nil
	}
	var e struct {
		Expr *Expr `json:"expr"`
	}
	if err := json.Unmarshal(b, &e); err != nil || e.Expr == nil {
		return fmt.Errorf("duration: want a string or {\"expr\": ...}, got %s", b)
	}
	*d = Duration{Expr: e.Expr}
	return nil
}

// Count is a fixed number, or an expression evaluated when the step starts.
type Count struct {
	N    int
	Expr *Expr
}

// IsZero reports whether the count was not given.
func (c Count) IsZero() bool { return c.N == 0 && c.Expr == nil }

// MarshalJSON implements json.Marshaler.
func (c Count) MarshalJSON() ([]byte, error) {
	if c.Expr != nil {
		return json.Marshal(map[string]*Expr{"expr": c.Expr})
	}
	return json.Marshal(c.N)
}

// UnmarshalJSON implements json.Unmarshaler.
func (c *Count) UnmarshalJSON(b []byte) error {
	var n int
	if err := json.Unmarshal(b, &n); err == nil {
		*c = Count{N: n}
		return nil
	}
	var e struct {
		Expr *Expr `json:"expr"`
	}
	if err := json.Unmarshal(b, &e); err != nil || e.Expr == nil {
		return fmt.Errorf("count: want a number or {\"expr\": ...}, got %s", b)
	}
	*c = Count{Expr: e.Expr}
	return nil
}
