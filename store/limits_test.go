package store

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestCheckSizes(t *testing.T) {
	key := strings.Repeat("k", 201)
	for _, tt := range []struct {
		name   string
		record any
		want   []string // nil: fits
	}{
		{"fits", &Run{Runbook: "r", TriggerDetail: strings.Repeat("d", 500)}, nil},
		{"characters, not bytes", &Run{TriggerDetail: strings.Repeat("é", 500)}, nil},
		{"one over", Run{TriggerDetail: strings.Repeat("d", 501)}, []string{"triggerDetail: 501 characters, at most 500"}},
		{"every field", &Run{Runbook: strings.Repeat("r", 64), TriggeredBy: strings.Repeat("f", 250), IdempotencyKey: &key},
			[]string{"runbook: 64 characters, at most 63", "triggeredBy: 250 characters, at most 200", "idempotencyKey: 201 characters, at most 200"}},
		{"a slice", []*StepEvent{{StepID: "a"}, {StepID: strings.Repeat("s", 64)}}, []string{"step: 64 characters, at most 63"}},
		{"a map is not checked", map[string]any{"trigger_detail": strings.Repeat("d", 501)}, nil},
	} {
		err := CheckSizes(tt.record)
		var tl *TooLongError
		if tt.want == nil {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		if !errors.As(err, &tl) || !reflect.DeepEqual(tl.Fields, tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
	if got := Size(Run{}, "TriggerDetail"); got != 500 {
		t.Errorf("Size(Run.TriggerDetail) = %d", got)
	}
	if got := Size(&Token{}, "Groups"); got != 1000 {
		t.Errorf("Size(Token.Groups) = %d", got)
	}
}

// A record too long for its columns is refused before any SQL, on SQLite
// (which would keep it) as on Postgres (which would fail the statement).
func TestCreateRefusesTooLong(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		r := &Run{ID: "r-1", Runbook: "r", Status: "running", Trigger: "alert", TriggeredBy: strings.Repeat("f", 201), StartedBy: "ann"}
		_, err := s.CreateRun(r, nil)
		var tl *TooLongError
		if !errors.As(err, &tl) || tl.Model != "Run" || !reflect.DeepEqual(tl.Fields, []string{"triggeredBy: 201 characters, at most 200"}) {
			t.Fatalf("CreateRun: %v", err)
		}
		if _, err := s.Run("r-1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("the run was recorded: %v", err)
		}
	})
}
