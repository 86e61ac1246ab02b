package plan

// FailureAction is onStepFailure's action: what a step's failure does.
type FailureAction string

const (
	FailureFail FailureAction = "fail" // the failure fails the run (the default)
	FailureAsk  FailureAction = "ask"  // the run waits for a person to retry, skip or fail the step
)

// FailureActions are the values of onStepFailure.action.
var FailureActions = []FailureAction{FailureAsk, FailureFail}

// DecisionAction is what a decider chooses for a step that failed under
// onStepFailure: ask.
type DecisionAction string

const (
	DecideRetry DecisionAction = "retry" // run the step again, with inputs overriding its with
	DecideSkip  DecisionAction = "skip"  // go on as if it succeeded with the given outputs
	DecideFail  DecisionAction = "fail"  // fail the run with the step's failure
)

// DecisionActions are the actions of a decision.
var DecisionActions = []DecisionAction{DecideRetry, DecideSkip, DecideFail}

// OnStepFailure is the compiled policy of a step whose failure asks for a
// decision. The compiler sets it only on steps it applies to (actions,
// asserts, sub-runbooks without continueOnError) and only when the action
// is ask, so a plan without it runs as before.
type OnStepFailure struct {
	Action FailureAction `json:"action"`
	// Timeout, when set, fails the step as it failed if nobody decided.
	Timeout Duration `json:"timeout,omitzero"`
	// Deciders are users and group:NAME; none: anyone with the operator role.
	Deciders []string `json:"deciders,omitempty"`
	Message  *Value   `json:"message,omitempty"`
	// Notify (the notify action's url and text) is sent when the step
	// starts waiting, and again every RemindEvery while it waits.
	Notify      map[string]*Value `json:"notify,omitempty"`
	RemindEvery Duration          `json:"remindEvery,omitzero"`
}
