package web

import (
	"fmt"
	"strings"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/workflows"
)

// graphNode is a step of the runbook's graph: what it is, its status in
// a run (none on the runbook page), and the sections inside it.
type graphNode struct {
	ID, Kind, Summary, If string
	// Status is the step's timeline status; for a step inside a forEach,
	// its items' statuses counted ("2 succeeded, 1 failed").
	Status, Class string
	Sections      []graphSection
}

// graphSection is a section of steps: one branch that runs in order, or
// a parallel's branches side by side.
type graphSection struct {
	Label    string
	Branches [][]graphNode
}

// graphOf draws p: its steps, then onFailure and finally, with the
// statuses of steps (a run's timeline page; nil on the runbook page).
func graphOf(p *plan.Plan, steps []workflows.StepState) []graphSection {
	if p == nil {
		return nil
	}
	st := statusesOf(steps)
	var out []graphSection
	for _, sec := range p.Sections() {
		if len(sec.Steps) == 0 {
			continue
		}
		label := map[string]string{"steps": "", "onFailure": "on failure", "finally": "finally"}[sec.Field]
		out = append(out, graphSection{Label: label, Branches: [][]graphNode{nodesOf(sec.Steps, st)}})
	}
	return out
}

func nodesOf(steps []*plan.Step, st map[string]*stepCounts) []graphNode {
	out := make([]graphNode, 0, len(steps))
	for _, s := range steps {
		n := graphNode{ID: s.ID, Kind: string(s.Kind), Summary: stepSummary(s)}
		if s.If != nil {
			n.If = s.If.Src
		}
		if c := st[s.ID]; c != nil {
			n.Status, n.Class = c.text(), statusClass(c.worst())
		}
		for _, sec := range s.Children() {
			label := map[plan.Runs]string{plan.RunsPerItem: "for each " + s.As, plan.RunsOnItemError: "on an item's error",
				plan.RunsOnUndo: "compensate"}[sec.Runs]
			g := graphSection{Label: label}
			if s.Kind == plan.StepParallel && sec.Field == "steps" {
				for _, b := range sec.Steps {
					g.Branches = append(g.Branches, nodesOf([]*plan.Step{b}, st))
				}
			} else {
				g.Branches = [][]graphNode{nodesOf(sec.Steps, st)}
			}
			n.Sections = append(n.Sections, g)
		}
		out = append(out, n)
	}
	return out
}

func stepSummary(s *plan.Step) string {
	switch s.Kind {
	case plan.StepAction:
		return s.Action
	case plan.StepRunbook:
		return "runbook " + s.Runbook.Name
	case plan.StepApproval:
		return "approval by " + strings.Join(s.Approval.Approvers, ", ")
	case plan.StepWaitFor:
		return "wait for " + s.WaitFor.Event
	case plan.StepSleep:
		return "sleep " + s.Sleep.String()
	case plan.StepForEach:
		return "for each " + s.As + " in " + s.ForEach.Src
	}
	return string(s.Kind)
}

// stepCounts are the statuses of one step's entries: one for a step, one
// per item for a step inside a forEach.
type stepCounts struct {
	order  []string
	counts map[string]int
}

func statusesOf(steps []workflows.StepState) map[string]*stepCounts {
	out := map[string]*stepCounts{}
	for _, s := range steps {
		if s.Phase == workflows.PhaseCompensate {
			continue
		}
		c := out[s.ID]
		if c == nil {
			c = &stepCounts{counts: map[string]int{}}
			out[s.ID] = c
		}
		if c.counts[s.Status] == 0 {
			c.order = append(c.order, s.Status)
		}
		c.counts[s.Status]++
	}
	return out
}

func (c *stepCounts) text() string {
	if len(c.order) == 1 && c.counts[c.order[0]] == 1 {
		return c.order[0]
	}
	parts := make([]string, len(c.order))
	for i, s := range c.order {
		parts[i] = fmt.Sprintf("%d %s", c.counts[s], s)
	}
	return strings.Join(parts, ", ")
}

// worst is the status that colours a node: a failure over anything
// running or waiting, those over the rest.
func (c *stepCounts) worst() string {
	rank := map[string]int{workflows.StatusFailed: 5, workflows.StatusWaitingDecision: 4, workflows.StatusWaitingApproval: 3,
		workflows.StatusWaitingEvent: 3, workflows.StatusRunning: 2}
	best := c.order[0]
	for _, s := range c.order {
		if rank[s] > rank[best] {
			best = s
		}
	}
	return best
}
