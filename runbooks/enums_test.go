package runbooks_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/runbooks"
)

// The values lint accepts (the document's enum tags, which the schema and
// the docs show too) are the ones the plan declares and the interpreter
// and the API act on.
func TestEnumTagsAreThePlansValues(t *testing.T) {
	for _, tt := range []struct {
		doc   any
		field string
		want  []string
	}{
		{runbooks.Concurrency{}, "OnConflict", texts(plan.ConflictPolicies)},
		{runbooks.Schedule{}, "Overlap", texts(plan.Overlaps)},
		{runbooks.Approval{}, "OnTimeout", texts(plan.ApprovalTimeouts)},
		{runbooks.WaitFor{}, "OnTimeout", texts(plan.WaitTimeouts)},
		{runbooks.OnStepFailure{}, "Action", texts(plan.FailureActions)},
	} {
		typ := reflect.TypeOf(tt.doc)
		f, ok := typ.FieldByName(tt.field)
		if !ok {
			t.Fatalf("%s has no field %s", typ.Name(), tt.field)
		}
		if got := strings.Split(f.Tag.Get("enum"), ","); !slices.Equal(got, tt.want) {
			t.Errorf("%s.%s enum tag = %q, the plan declares %q", typ.Name(), tt.field, got, tt.want)
		}
	}
}

func texts[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}
