package plan

import "time"

// The values of the built-in variables and of the outputs the interpreter
// gives its own step kinds, built in one place beside the types celenv.go
// declares for them (shapes_test.go checks each against its type). The API,
// the interpreter and the preview build them only through these.

// RunVars is the value of run: RunType.
type RunVars struct {
	ID, Name    string
	Version     int
	Trigger     RunTrigger
	TriggeredBy string
	StartedBy   string
	StartedAt   time.Time
	Incident    uint
}

// Value is run as expressions read it.
func (r RunVars) Value() map[string]any {
	return map[string]any{"id": r.ID, "name": r.Name, "version": int64(r.Version), "triggeredBy": r.TriggeredBy,
		"startedBy": r.StartedBy, "trigger": string(r.Trigger), "startedAt": r.StartedAt,
		"incident": int64(r.Incident)}
}

// ErrorValue is the value of error (ErrorType) in onFailure and onError:
// the failed step, its message and its error type.
func ErrorValue(step, message, typ string) map[string]any {
	return map[string]any{"step": step, "message": message, "type": typ}
}

// AlertVars is the value of alert (AlertType) in alertmanager triggers.
type AlertVars struct {
	Status      string
	Labels      map[string]string
	Annotations map[string]string
	StartsAt    time.Time
	Fingerprint string
}

// Value is alert as expressions read it.
func (a AlertVars) Value() map[string]any {
	return map[string]any{"status": a.Status, "labels": stringMap(a.Labels), "annotations": stringMap(a.Annotations),
		"startsAt": a.StartsAt, "fingerprint": a.Fingerprint}
}

func stringMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// The outputs below are a step's recorded outputs: JSON-like values, which
// the interpreter converts with CELValue to its declared outputs type.

// ApprovalVote is one vote as an approval's outputs list it.
type ApprovalVote struct {
	User     string
	Decision VoteDecision
	Comment  string
	At       time.Time
}

// ApprovalResult is what an approval step ends with.
type ApprovalResult struct {
	Decision Decision
	Votes    []ApprovalVote // in order
	Inputs   map[string]any // the deciding approver's; nil: none
}

// Outputs are the step's outputs: ApprovalOutputs of its inputs.
func (a ApprovalResult) Outputs() map[string]any {
	approvedBy := []any{}
	votes := []any{}
	for _, v := range a.Votes {
		if v.Decision == VoteApprove {
			approvedBy = append(approvedBy, v.User)
		}
		votes = append(votes, map[string]any{"user": v.User, "decision": string(v.Decision), "comment": v.Comment,
			"at": v.At.UTC().Format(time.RFC3339Nano)})
	}
	inputs := a.Inputs
	if inputs == nil {
		inputs = map[string]any{}
	}
	return map[string]any{"decision": string(a.Decision), "approvedBy": approvedBy, "votes": votes, "inputs": JSONValue(inputs)}
}

// ForEachOutputValue is a forEach step's outputs (ForEachOutputs): the
// counts, and per item the outputs of the body's last step (nil where the
// item failed or did not run).
func ForEachOutputValue(succeeded, failed int, results []any) map[string]any {
	return map[string]any{"succeeded": int64(succeeded), "failed": int64(failed), "results": results}
}

// WaitForOutputValue is a waitFor step's outputs (WaitForOutputs). A wait
// that timed out has received false, no payload and no sender.
func WaitForOutputValue(received bool, payload any, sender string) map[string]any {
	return map[string]any{"received": received, "payload": payload, "sender": sender}
}
