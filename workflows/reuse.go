package workflows

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"

	"github.com/opsrunbook/runbook/plan"

	"go.temporal.io/sdk/workflow"
)

// A rerun is a new run of a recorded one (POST /api/v1/runs/:id/rerun).
// Resumed from a step, it takes the entries of the earlier run that the
// API chose (package rerun decides which: the interpreter only follows)
// instead of running their steps again. See docs/execution.md.

// Rerun is a run's provenance when it reruns another, and what it reuses.
type Rerun struct {
	Of     string `json:"of"`             // the run it reruns
	From   string `json:"from,omitempty"` // the step it resumes from: deploy, deploy[3]; "" from the top
	By     string `json:"by"`             // who asked
	Reason string `json:"reason,omitempty"`
	// Reuse is the gzipped JSON of the []Reused entries.
	Reuse []byte `json:"reuse,omitempty"`
}

// How a rerun takes a recorded entry.
const (
	// ReuseReplay takes the entry's recorded result: its outputs, votes,
	// times, or its failure when the earlier run went on after it.
	ReuseReplay = "replay"
	// ReuseNotRun passes a step before the resumed one that the earlier
	// run has no result for (a step of a later version): it is skipped.
	ReuseNotRun = "notRun"
)

// Reused is one timeline entry a rerun takes from the earlier run.
type Reused struct {
	Step  string    `json:"step"`
	Item  *int      `json:"item,omitempty"`
	How   string    `json:"how"`
	State StepState `json:"state"` // the earlier run's entry
}

// EncodeReuse is Rerun.Reuse of entries.
func EncodeReuse(entries []Reused) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(entries); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// DecodeReuse reverses EncodeReuse.
func DecodeReuse(b []byte) ([]Reused, error) {
	if len(b) == 0 {
		return nil, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, err
	}
	var out []Reused
	err = json.Unmarshal(raw, &out)
	return out, err
}

// reuseKey names an entry: a step, and its item inside a forEach (-1
// outside). The API reuses no entry of a forEach nested in another, so
// the key is unique.
type reuseKey struct {
	step string
	item int
}

func keyOf(step string, item *int) reuseKey {
	if item == nil {
		return reuseKey{step, -1}
	}
	return reuseKey{step, *item}
}

// loadReuse reads the rerun's entries into r.reuse.
func (r *run) loadReuse() error {
	if r.in.Rerun == nil {
		return nil
	}
	entries, err := DecodeReuse(r.in.Rerun.Reuse)
	if err != nil {
		return fmt.Errorf("rerun: %w", err)
	}
	r.reuse = make(map[reuseKey]*Reused, len(entries))
	for i := range entries {
		e := &entries[i]
		r.reuse[keyOf(e.Step, e.Item)] = e
	}
	return nil
}

// reused is the recorded entry a rerun takes for st, if any.
func (r *run) reused(st *StepState) *Reused {
	if len(r.reuse) == 0 || st.Phase == PhaseCompensate || st.Phase == PhaseOnFailure || st.Phase == PhaseFinally {
		return nil
	}
	return r.reuse[keyOf(st.ID, st.Item)]
}

// reuseStep passes a step with the result the earlier run recorded. A
// replayed success is reused (expressions see it succeeded), registers its
// compensation as if it had run here, and a set step sets its vars again
// from the same inputs; a replayed failure fails as it did (so a forEach
// counts it and its onError entries are replayed too); an exit does not
// exit again.
func (r *run) reuseStep(ctx workflow.Context, sc *scope, s *plan.Step, st *StepState, u *Reused) error {
	old := u.State
	if u.How == ReuseNotRun {
		now := workflow.Now(ctx)
		was := old.Status
		if was == "" {
			was = "absent"
		}
		st.Status, st.EndedAt = StatusSkipped, &now
		st.Message = fmt.Sprintf("not run: the run resumed from %s, and run %s has no result for this step (%s)", r.in.Rerun.From, r.in.Rerun.Of, was)
		return nil
	}
	st.ReusedFrom = r.in.Rerun.Of
	st.Outputs, st.Attempts, st.StartedAt, st.EndedAt = old.Outputs, old.Attempts, old.StartedAt, old.EndedAt
	st.Message, st.Approvers, st.MinApprovals, st.Votes = old.Message, old.Approvers, old.MinApprovals, old.Votes
	if s.Kind == plan.StepForEach && st.Outputs != nil {
		st.Outputs = forEachOutputs(st.Outputs)
	}
	switch old.Status {
	case StatusSkipped:
		st.Status = StatusSkipped
		return nil
	case StatusFailed:
		st.Status, st.Error, st.ErrorType = StatusFailed, old.Error, old.ErrorType
		if s.ContinueOnError {
			return nil
		}
		return &stepError{step: s.ID, typ: old.ErrorType, message: old.Error}
	}
	st.Status = StatusReused
	switch {
	case s.Kind == plan.StepSet:
		vars := r.vars(sc)
		for _, v := range s.Set {
			x, err := r.ev.Eval(v.Expr, vars)
			if err != nil {
				return r.fail(ctx, st, s, &stepError{step: s.ID, typ: ErrExpression, message: fmt.Sprintf("vars.%s: %v", v.Name, err)})
			}
			r.varsVar[v.Name] = x
		}
	case s.Kind == plan.StepAction && s.Compensate != nil:
		r.compensations = append(r.compensations, compensation{step: s, scope: sc, state: st})
	}
	return nil
}
