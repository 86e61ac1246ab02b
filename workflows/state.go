package workflows

import (
	"time"

	"github.com/opsrunbook/runbook/plan"
)

// Step statuses, as the status query and steps.<id>.status show them.
const (
	StatusPending         = "pending"
	StatusRunning         = "running"
	StatusWaitingApproval = "waiting-approval"
	StatusWaitingEvent    = "waiting-event"
	// StatusWaitingDecision is a step that failed under onStepFailure: ask,
	// waiting for a decider to retry, skip or fail it.
	StatusWaitingDecision = "waiting-decision"
	StatusSucceeded       = "succeeded"
	StatusFailed          = "failed"
	StatusSkipped         = "skipped"
	StatusCompensated     = "compensated"
	StatusCancelled       = "cancelled"
	// StatusNotReached is a step, or a loop item's step, that never ran
	// in a run that has ended: the run failed, was cancelled or exited
	// before it. The API shows it in place of pending once the run ended
	// (the workflow keeps pending: see server/status.go, settle).
	StatusNotReached = "not-reached"
	// StatusReused is a step a rerun did not run again: it took the
	// outputs (votes, times) the earlier run recorded for it (reusedFrom).
	// Expressions see it succeeded.
	StatusReused = "reused"
)

// StepStatuses are every status a timeline entry takes, in docs order.
var StepStatuses = []string{StatusPending, StatusRunning, StatusWaitingApproval, StatusWaitingEvent, StatusWaitingDecision, StatusSucceeded,
	StatusFailed, StatusSkipped, StatusCompensated, StatusCancelled, StatusNotReached, StatusReused}

// Phases of a timeline entry: where in the run its step is. Main steps
// and forEach bodies have none.
const (
	PhaseOnError    = "onError"    // a forEach item's error handler
	PhaseOnFailure  = "onFailure"  // the run's failure handler
	PhaseFinally    = "finally"    // the run's finally
	PhaseCompensate = "compensate" // a compensate.steps entry, undoing Compensates
)

// Run statuses.
const (
	RunRunning   = "running"
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
	RunCancelled = "cancelled"
	// RunWaitingDecision is a running run one of whose steps failed and
	// waits for a decision; it has not ended.
	RunWaitingDecision = "waiting_decision"
)

// RunStatuses are every status a run takes.
var RunStatuses = []string{RunRunning, RunWaitingDecision, RunSucceeded, RunFailed, RunCancelled}

// LiveStatuses are the statuses of a run that has not ended.
var LiveStatuses = []string{RunRunning, RunWaitingDecision}

// Ended reports whether a run of status has ended: anything but running
// and waiting_decision. Compare with this, never with RunRunning alone.
func Ended(status string) bool {
	return status != RunRunning && status != RunWaitingDecision
}

// StepState is one entry of a run's timeline. Steps inside a forEach body
// have one entry per item.
type StepState struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	Loop string `json:"loop,omitempty"` // the forEach this entry is an item of
	Item *int   `json:"item,omitempty"`
	// Phase is where the step is (Phase*); Compensates, for a
	// compensate.steps entry, the step it undoes.
	Phase       string         `json:"phase,omitempty"`
	Compensates string         `json:"compensates,omitempty"`
	Status      string         `json:"status"`
	Attempts    int            `json:"attempts,omitempty"`
	StartedAt   *time.Time     `json:"startedAt,omitempty"`
	EndedAt     *time.Time     `json:"endedAt,omitempty"`
	Outputs     map[string]any `json:"outputs,omitempty"`
	Error       string         `json:"error,omitempty"`
	ErrorType   string         `json:"errorType,omitempty"`
	// Message is an approval's question, or an exit's or assert's message.
	Message      string   `json:"message,omitempty"`
	Approvers    []string `json:"approvers,omitempty"`
	MinApprovals int      `json:"minApprovals,omitempty"`
	Votes        []Vote   `json:"votes,omitempty"`
	// Quorum is, for an approval with group quorums, what each group has
	// given and still needs.
	Quorum []QuorumState `json:"quorum,omitempty"`
	// Deciders and Decisions are those of a step that failed under
	// onStepFailure: ask (no deciders: anyone with the operator role).
	Deciders  []string   `json:"deciders,omitempty"`
	Decisions []Decision `json:"decisions,omitempty"`
	// CompensationStartedAt and CompensationEndedAt are when this step's
	// undo ran (its compensate action, or its compensate.steps, which have
	// entries of their own); CompensationError says why it failed, if it
	// did (the status then stays succeeded, else it is compensated).
	CompensationStartedAt *time.Time `json:"compensationStartedAt,omitempty"`
	CompensationEndedAt   *time.Time `json:"compensationEndedAt,omitempty"`
	CompensationError     string     `json:"compensationError,omitempty"`
	// ReusedFrom is the run whose recorded result a rerun took for this
	// entry (status reused, or a replayed skip or failure).
	ReusedFrom string `json:"reusedFrom,omitempty"`

	outType *plan.Type // the declared type of Outputs
}

// Vote is one approver's decision.
type Vote struct {
	User     string            `json:"user"`
	Decision plan.VoteDecision `json:"decision"`
	Comment  string            `json:"comment,omitempty"`
	At       time.Time         `json:"at"`
	Inputs   map[string]any    `json:"inputs,omitempty"`
	// Groups are the voter's groups when the approval has group quorums
	// (which group a vote fills depends on them).
	Groups []string `json:"groups,omitempty"`
}

// QuorumState is one group's share of an approval: Min approvals needed,
// Voters the approvers whose vote fills it.
type QuorumState struct {
	Group  string   `json:"group"`
	Min    int      `json:"min"`
	Voters []string `json:"voters"`
}

// Status is what the status query returns: the run and its timeline.
type Status struct {
	RunID     string      `json:"runId"`
	Runbook   string      `json:"runbook"`
	Status    string      `json:"status"`
	StartedAt time.Time   `json:"startedAt"`
	EndedAt   *time.Time  `json:"endedAt,omitempty"`
	Steps     []StepState `json:"steps"`
	// StepsTotal is the length of the whole timeline; Steps is the page
	// of it from StepsOffset the query asked for.
	StepsTotal  int            `json:"stepsTotal"`
	StepsOffset int            `json:"stepsOffset,omitempty"`
	Outputs     map[string]any `json:"outputs,omitempty"`
	Error       string         `json:"error,omitempty"`
	ErrorType   string         `json:"errorType,omitempty"`
	FailedStep  string         `json:"failedStep,omitempty"`
	ExitMessage string         `json:"exitMessage,omitempty"`
	// Handovers is how many times the run continued as a new execution.
	Handovers int `json:"handovers,omitempty"`
}

// scope is where steps record their state: the run, or one forEach item.
// Lookups fall through to the enclosing scope.
type scope struct {
	parent *scope
	states map[string]*StepState
	vars   map[string]any // loop variables, error
}

func newScope(parent *scope) *scope {
	return &scope{parent: parent, states: map[string]*StepState{}, vars: map[string]any{}}
}

func (sc *scope) lookup(id string) *StepState {
	for s := sc; s != nil; s = s.parent {
		if st, ok := s.states[id]; ok {
			return st
		}
	}
	return nil
}

// stepsVar is the steps variable of expressions evaluated in sc: every
// step's status, outputs and times, inner scopes shadowing outer ones.
func (sc *scope) stepsVar() map[string]any {
	var chain []*scope
	for s := sc; s != nil; s = s.parent {
		chain = append(chain, s)
	}
	out := map[string]any{}
	for i := len(chain) - 1; i >= 0; i-- {
		for id, st := range chain[i].states { // building a map: order does not matter
			out[id] = st.celValue()
		}
	}
	return out
}

func (st *StepState) celValue() map[string]any {
	status := st.Status
	if status == StatusReused { // conditions written for a run from the top hold in a resumed one
		status = StatusSucceeded
	}
	v := map[string]any{"status": status, "outputs": typedOutputs(st.Outputs, st.outType)}
	if st.Outputs == nil {
		v["outputs"] = map[string]any{}
	}
	if st.StartedAt != nil {
		v["startedAt"] = *st.StartedAt
	}
	if st.EndedAt != nil {
		v["endedAt"] = *st.EndedAt
	}
	return v
}

// typedOutputs converts JSON outputs to the types the plan declares.
func typedOutputs(out map[string]any, t *plan.Type) map[string]any {
	if t == nil {
		return out
	}
	if m, ok := plan.CELValue(out, t).(map[string]any); ok {
		return m
	}
	return out
}
