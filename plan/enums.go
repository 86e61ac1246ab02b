package plan

// The enumerated values a runbook, a plan, a run and the API share, as typed
// constants: lint, the compiler, the interpreter and the API compare these,
// never string literals. The text of each value is part of the format and of
// the API and does not change. Where the YAML document lists the allowed
// values in an enum tag, a runbooks test checks the tag against the lists
// below.

// ConflictPolicy is concurrency.onConflict: what a start does while a run
// with the same key runs.
type ConflictPolicy string

const (
	ConflictReject ConflictPolicy = "reject" // refuse the new run (the default)
	ConflictAttach ConflictPolicy = "attach" // answer with the running run
)

// ConflictPolicies are the values of onConflict.
var ConflictPolicies = []ConflictPolicy{ConflictReject, ConflictAttach}

// ApprovalTimeout is an approval's onTimeout.
type ApprovalTimeout string

const (
	ApprovalTimeoutReject   ApprovalTimeout = "reject"   // the approval is rejected (the default)
	ApprovalTimeoutEscalate ApprovalTimeout = "escalate" // escalateTo join the approvers, once
)

// ApprovalTimeouts are the values of an approval's onTimeout.
var ApprovalTimeouts = []ApprovalTimeout{ApprovalTimeoutReject, ApprovalTimeoutEscalate}

// WaitTimeout is a waitFor's onTimeout.
type WaitTimeout string

const (
	WaitTimeoutFail     WaitTimeout = "fail"     // the step fails (the default)
	WaitTimeoutContinue WaitTimeout = "continue" // the step succeeds with received false
)

// WaitTimeouts are the values of a waitFor's onTimeout.
var WaitTimeouts = []WaitTimeout{WaitTimeoutFail, WaitTimeoutContinue}

// Overlap is a schedule's overlap policy, Temporal's in kebab case.
type Overlap string

const (
	OverlapSkip           Overlap = "skip" // the default
	OverlapBufferOne      Overlap = "buffer-one"
	OverlapBufferAll      Overlap = "buffer-all"
	OverlapCancelOther    Overlap = "cancel-other"
	OverlapTerminateOther Overlap = "terminate-other"
	OverlapAllowAll       Overlap = "allow-all"
)

// Overlaps are the values of a schedule's overlap.
var Overlaps = []Overlap{OverlapSkip, OverlapBufferOne, OverlapBufferAll, OverlapCancelOther, OverlapTerminateOther, OverlapAllowAll}

// TriggerKind is the kind of a plan's event trigger.
type TriggerKind string

const (
	TriggerAlertmanager TriggerKind = "alertmanager"
	TriggerWebhook      TriggerKind = "webhook"
)

// What an alertmanager trigger does with its runs still running when
// their incident resolves.
const (
	OnResolvedFinish = "finish"
	OnResolvedCancel = "cancel"
)

// RunTrigger is how a run started: run.trigger, and the trigger a run
// record keeps.
type RunTrigger string

const (
	RunTriggerAPI      RunTrigger = "api"
	RunTriggerSchedule RunTrigger = "schedule"
	RunTriggerAlert    RunTrigger = "alert" // an alertmanager trigger
	RunTriggerWebhook  RunTrigger = "webhook"
	RunTriggerParent   RunTrigger = "parent" // a sub-runbook step
)

// VoteDecision is what an approver votes.
type VoteDecision string

const (
	VoteApprove VoteDecision = "approve"
	VoteReject  VoteDecision = "reject"
)

// Decision is where an approval stands: its outputs' decision.
type Decision string

const (
	DecisionPending  Decision = "pending"
	DecisionApproved Decision = "approved"
	DecisionRejected Decision = "rejected"
)
