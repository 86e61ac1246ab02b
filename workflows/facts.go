package workflows

import "github.com/opsrunbook/runbook/plan"

// factsV1 is what the catalog said of each action while plans had layout
// version 1, which did not record it. Frozen: a plan of version 1 replays
// with these whatever the live catalog says now.
var factsV1 = map[string]plan.ActionFacts{
	"log":              {Local: true},
	"backup.files":     {Heartbeats: true},
	"backup.postgres":  {Heartbeats: true},
	"backup.prune":     {Heartbeats: true},
	"backup.verify":    {Heartbeats: true},
	"http.request":     {Heartbeats: true},
	"metrics.query":    {Heartbeats: true},
	"postgres.exec":    {Heartbeats: true},
	"postgres.query":   {Heartbeats: true},
	"restore.files":    {Heartbeats: true},
	"restore.postgres": {Heartbeats: true},
	"shell":            {Heartbeats: true},
	"ssh":              {Heartbeats: true},
}

// factsOf is what the run's plan says of an action: recorded in the plan
// from version 2, frozen above for version 1.
func (r *run) factsOf(action string, recorded plan.ActionFacts) plan.ActionFacts {
	if r.plan.Version < 2 {
		return factsV1[action]
	}
	return recorded
}
