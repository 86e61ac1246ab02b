package server

import (
	"errors"
	"time"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/workflows"
)

// RunSettings is what every run the API starts takes from the API's
// configuration, whatever starts it: a start through the API, an alert, a
// webhook, a schedule's trigger route, or a fire of a Temporal schedule.
// Input is the one place a RunInput is made, so no start path can miss a
// setting (schedules once ran with the default history budget).
type RunSettings struct {
	// VoteKey is the API's public key (hex) runs verify votes and events with.
	VoteKey string
	// HistoryBudget is API.HistoryBudget.
	HistoryBudget int
	// Freezes are the registered freezes, and Now the time their
	// blackouts are computed from (BlackoutHorizon ahead).
	Freezes []*plan.Freeze
	Now     time.Time
}

// runSettings are the settings of the runs a starts.
func (a *API) runSettings() (RunSettings, error) {
	key, err := a.voteKey()
	if err != nil {
		return RunSettings{}, err
	}
	freezes, err := a.Store.CompiledFreezes()
	if err != nil {
		return RunSettings{}, err
	}
	return RunSettings{VoteKey: key, HistoryBudget: a.HistoryBudget, Freezes: freezes, Now: time.Now()}, nil
}

// Input is the input of a run of version of p with bound params, started
// by startedBy for trigger (what triggeredBy names); startedAt is
// run.startedAt, nil for the workflow's start time (schedules). Local
// actions run local in every run the API starts.
func (s RunSettings) Input(p *plan.Plan, version int, params map[string]any, trigger plan.RunTrigger, triggeredBy, startedBy string, startedAt *time.Time) (workflows.RunInput, error) {
	if s.VoteKey == "" {
		return workflows.RunInput{}, errors.New("no vote key: the run could not verify votes")
	}
	blackouts, err := blackoutsOf(s.Freezes, p, s.Now)
	if err != nil {
		return workflows.RunInput{}, err
	}
	return workflows.RunInput{Plan: p, Params: params, Trigger: trigger, TriggeredBy: triggeredBy, StartedBy: startedBy,
		VoteKey: s.VoteKey, Version: version, StartedAt: startedAt, LocalActions: true, HistoryBudget: s.HistoryBudget, Blackouts: blackouts}, nil
}
