package plan

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// Each constructor's value is a value of the type celenv.go declares for
// it: a field added to one side only, or a Go type the evaluator would not
// pass to CEL as the declared kind, fails here.
func TestShapesMatchTheirTypes(t *testing.T) {
	at := time.Date(2026, 3, 1, 9, 30, 0, 123456789, time.UTC)
	sizeInput := []Field{{Name: "size", Type: IntType}}
	for _, tt := range []struct {
		name  string
		value any
		typ   *Type
	}{
		{"run", RunVars{ID: "deploy-1", Name: "deploy", Version: 3, Trigger: RunTriggerAPI, TriggeredBy: "ann",
			StartedBy: "ann", StartedAt: at}.Value(), RunType},
		{"error", ErrorValue("ship", "exit status 1", "ShellExitError"), ErrorType},
		{"alert", AlertVars{Status: "firing", Labels: map[string]string{"alertname": "DiskFull"},
			Annotations: map[string]string{"summary": "disk"}, StartsAt: at, Fingerprint: "f1"}.Value(), AlertType},
		{"alert without labels", AlertVars{Status: "resolved"}.Value(), AlertType},
		// Outputs are recorded as JSON; expressions read them converted
		// to the step's declared outputs type.
		{"approval", CELValue(ApprovalResult{Decision: DecisionApproved, Inputs: map[string]any{"size": int64(20)},
			Votes: []ApprovalVote{{User: "bob", Decision: VoteApprove, Comment: "ok", At: at}, {User: "cid", Decision: VoteApprove, At: at}},
		}.Outputs(), ApprovalOutputs(sizeInput)), ApprovalOutputs(sizeInput)},
		{"approval timed out", CELValue(ApprovalResult{Decision: DecisionRejected}.Outputs(), ApprovalOutputs(nil)), ApprovalOutputs(nil)},
		{"forEach", CELValue(ForEachOutputValue(1, 1, []any{map[string]any{"stdout": "ok"}, nil}), ForEachOutputs), ForEachOutputs},
		{"waitFor", CELValue(WaitForOutputValue(true, map[string]any{"reason": "ready"}, "ann"), WaitForOutputs), WaitForOutputs},
		{"waitFor timed out", CELValue(WaitForOutputValue(false, nil, ""), WaitForOutputs), WaitForOutputs},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if probs := conforms(tt.value, tt.typ, tt.name); len(probs) > 0 {
				t.Errorf("%s", strings.Join(probs, "\n"))
			}
		})
	}
}

// conforms itself: it reports a missing field, an extra one and a wrong
// Go type, each where it is.
func TestConformsFindsMismatches(t *testing.T) {
	typ := ObjectOf(Field{Name: "n", Type: IntType}, Field{Name: "at", Type: TimestampType},
		Field{Name: "tags", Type: ListOf(StringType)})
	got := conforms(map[string]any{"n": 1, "tags": []any{"a", 2}, "extra": true}, typ, "x")
	want := []string{
		"x.at: missing",
		"x.extra: not declared",
		"x.n: int, want int64 for int",
		"x.tags[1]: int, want string for string",
	}
	if !slices.Equal(got, want) {
		t.Errorf("conforms = %q\nwant %q", got, want)
	}
}

// conforms lists where v is not a value of t as expressions read it:
// objects have exactly the declared fields, and each kind has the Go type
// the evaluator hands CEL for it (CELValue's conversions done).
func conforms(v any, t *Type, path string) []string {
	want := map[Kind]string{KindString: "string", KindInt: "int64", KindNumber: "float64", KindBool: "bool",
		KindDuration: "time.Duration", KindTimestamp: "time.Time"}
	mismatch := func(w string) []string { return []string{fmt.Sprintf("%s: %T, want %s for %s", path, v, w, t.Kind)} }
	switch t.Kind {
	case KindAny:
		return nil
	case KindString, KindInt, KindNumber, KindBool, KindDuration, KindTimestamp:
		if got := fmt.Sprintf("%T", v); got != want[t.Kind] {
			return mismatch(want[t.Kind])
		}
		return nil
	case KindList:
		l, ok := v.([]any)
		if !ok {
			return mismatch("[]any")
		}
		var probs []string
		for i, e := range l {
			probs = append(probs, conforms(e, t.Elem, fmt.Sprintf("%s[%d]", path, i))...)
		}
		return probs
	case KindMap:
		m, ok := v.(map[string]any)
		if !ok {
			return mismatch("map[string]any")
		}
		var probs []string
		for _, k := range SortedKeys(m) {
			probs = append(probs, conforms(m[k], t.Elem, path+"["+k+"]")...)
		}
		return probs
	case KindObject:
		m, ok := v.(map[string]any)
		if !ok {
			return mismatch("map[string]any")
		}
		var probs []string
		names := append(t.FieldNames(), SortedKeys(m)...)
		slices.Sort(names)
		for _, name := range slices.Compact(names) {
			f, declared := t.Field(name)
			x, present := m[name]
			switch {
			case !present:
				probs = append(probs, path+"."+name+": missing")
			case !declared:
				probs = append(probs, path+"."+name+": not declared")
			default:
				probs = append(probs, conforms(x, f.Type, path+"."+name)...)
			}
		}
		return probs
	}
	return mismatch("a known kind")
}
