package plan

// Temporal's limits, which a run must stay under, and the engine's own.
const (
	// HistoryLimit is the history length at which Temporal ends a workflow
	// execution.
	HistoryLimit = 51200
	// HistoryBudget is the history length after which a long loop hands
	// the run over to a new execution (docs/execution.md).
	HistoryBudget = 10000
	// MaxPayloadBytes is the largest payload Temporal takes: a run's input,
	// an activity's input or result, a query result.
	MaxPayloadBytes = 2 << 20
	// MaxPlanBytes is the largest compiled plan the API starts: the plan
	// travels in every run's input and every hand-over, beside params and
	// the carried state, within MaxPayloadBytes.
	MaxPlanBytes = 1 << 20
	// MaxOutputBytes is the most a step's outputs may be, as JSON: an
	// action's result, and an entry of the timeline every status page and
	// hand-over carries. The worker fails an action past it
	// (ErrOutputTooLarge), and validate refuses a step whose outputs are
	// known to pass it.
	MaxOutputBytes = 1 << 20
)
