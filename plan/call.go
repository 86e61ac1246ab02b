package plan

// ActionInput is what the interpreter sends an action: the inputs it could render
// in the workflow, and the ones that read secrets, which only the activity
// renders (so secret values never enter workflow history).
type ActionInput struct {
	Runbook string `json:"runbook"`
	RunID   string `json:"runId"`
	StepID  string `json:"stepId"`
	// Item is the forEach item the step runs for (nil outside one), and
	// Attempts how many attempts the step made before this call: the
	// worker files the lines the call prints under them.
	Item     *int           `json:"item,omitempty"`
	Attempts int            `json:"attempts,omitempty"`
	Inputs   map[string]any `json:"inputs,omitempty"`
	// Deferred inputs read secrets: their templates, and the variables
	// those templates read (encoded with EncodeVars).
	Deferred map[string]*Value `json:"deferred,omitempty"`
	Vars     map[string]any    `json:"vars,omitempty"`
	// Link is the path of the web console's page an announcement (an
	// approval's or a decision's notify) is about; the worker puts it
	// under its public URL at the end of the text.
	Link string `json:"link,omitempty"`
}

// ActionOutput is what an action returns: its outputs, as its spec declares them.
type ActionOutput struct {
	Outputs map[string]any `json:"outputs"`
	Attempt int            `json:"attempt,omitempty"` // which attempt produced them
}

// Error types an interpreter or a retry policy can branch on.
const (
	ErrBadInput       = "BadInput"       // never retried
	ErrSecret         = "SecretNotFound" // never retried
	ErrShellExit      = "ShellExitError"
	ErrHTTPStatus     = "HTTPStatusError"
	ErrUnreachable    = "Unreachable"
	ErrNotifyRejected = "NotifyRejected"
	ErrBadOutput      = "BadOutput"         // never retried
	ErrSecretSource   = "SecretSourceError" // the secrets could not be listed
	ErrPanic          = "Panic"             // the action's code panicked
	ErrOutputTooLarge = "OutputTooLarge"    // the outputs pass MaxOutputBytes; never retried
)

// AttemptDetail is the first detail of an action's failure: which attempt
// failed. A failed activity returns no Output, so without it the
// interpreter could not tell how often a step ran.
type AttemptDetail struct {
	Attempt int `json:"runbookAttempt"`
}

// SecretsCheck is the activity a run calls before its first step with the
// names of every secret its plan reads.
const SecretsCheck = "secrets.check"

// SecretsCheckInput names the secrets to look up.
type SecretsCheckInput struct {
	Names []string `json:"names"`
}

// SecretsCheckOutput names those a step could not read: missing from the
// worker's sources, or set but too short to be redacted. It never holds a
// value.
type SecretsCheckOutput struct {
	Missing  []string `json:"missing,omitempty"`
	TooShort []string `json:"tooShort,omitempty"`
}
