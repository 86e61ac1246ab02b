package runbooks

import (
	"fmt"
	"strings"

	"github.com/opsrunbook/runbook/plan"
)

// Mermaid renders the plan as a Mermaid flowchart: steps in order,
// parallel branches side by side, groups and loops as subgraphs, and
// onFailure and finally after the main steps.
func Mermaid(p *plan.Plan) string {
	g := &graph{}
	g.line("flowchart TD")
	g.line(fmt.Sprintf("  start([%s])", mermaidText(p.Name)))
	ends := g.list(p.Steps, []string{"start"}, "  ")
	g.line("  done([succeeded])")
	g.edges(ends, "done", "")
	last := []string{"done"}
	if len(p.OnFailure) > 0 {
		g.line("  failed([failed])")
		g.line("  subgraph on_failure [on failure]")
		fails := g.list(p.OnFailure, []string{"failed"}, "    ")
		g.line("  end")
		last = append(last, fails...)
	} else if len(p.Finally) > 0 {
		g.line("  failed([failed])")
		last = append(last, "failed")
	}
	if len(p.Finally) > 0 {
		g.line("  subgraph finally_block [finally]")
		g.list(p.Finally, last, "    ")
		g.line("  end")
	}
	return strings.Join(g.lines, "\n") + "\n"
}

type graph struct {
	lines []string
}

func (g *graph) line(s string) { g.lines = append(g.lines, s) }

func (g *graph) edges(from []string, to, label string) {
	for _, f := range from {
		if label != "" {
			g.line(fmt.Sprintf("  %s -->|%s| %s", f, mermaidText(label), to))
		} else {
			g.line(fmt.Sprintf("  %s --> %s", f, to))
		}
	}
}

// list draws steps in sequence after the nodes in prev and returns the
// nodes the next step follows.
func (g *graph) list(steps []*plan.Step, prev []string, indent string) []string {
	for _, s := range steps {
		prev = g.step(s, prev, indent)
	}
	return prev
}

func (g *graph) step(s *plan.Step, prev []string, indent string) []string {
	label := ""
	if s.If != nil {
		label = "if " + s.If.Src
	}
	switch s.Kind {
	case plan.StepParallel:
		fork, join := s.ID, s.ID+"_join"
		g.line(fmt.Sprintf("%s%s{{%s}}", indent, fork, mermaidText(s.ID+": parallel")))
		g.edges(prev, fork, label)
		g.line(fmt.Sprintf("%s%s(( ))", indent, join))
		for _, b := range s.Steps {
			ends := g.step(b, []string{fork}, indent)
			g.edges(ends, join, "")
		}
		return []string{join}
	case plan.StepGroup, plan.StepForEach:
		title := s.ID
		if s.Kind == plan.StepForEach {
			title = fmt.Sprintf("%s: for each %s in %s", s.ID, s.As, s.ForEach.Src)
		}
		entry := s.ID
		g.line(fmt.Sprintf("%s%s[/%s/]", indent, entry, mermaidText(title)))
		g.edges(prev, entry, label)
		g.line(fmt.Sprintf("%ssubgraph %s_body [%s]", indent, s.ID, mermaidText(s.ID)))
		ends := g.list(s.Steps, []string{entry}, indent+"  ")
		g.line(indent + "end")
		return ends
	}
	shape := "[%s]"
	switch s.Kind {
	case plan.StepApproval, plan.StepWaitFor:
		shape = "{%s}"
	case plan.StepSleep:
		shape = "([%s])"
	case plan.StepRunbook:
		shape = "[[%s]]"
	}
	g.line(indent + s.ID + fmt.Sprintf(shape, mermaidText(s.ID+": "+graphLabel(s))))
	g.edges(prev, s.ID, label)
	return []string{s.ID}
}

func graphLabel(s *plan.Step) string {
	switch s.Kind {
	case plan.StepAction:
		return s.Action
	case plan.StepApproval:
		return fmt.Sprintf("approval %d of %s", s.Approval.MinApprovals, strings.Join(s.Approval.Approvers, ", "))
	case plan.StepSleep:
		return "sleep " + s.Sleep.String()
	case plan.StepWaitFor:
		return "wait for " + s.WaitFor.Event
	case plan.StepRunbook:
		return "runbook " + s.Runbook.Name
	}
	return string(s.Kind)
}

// mermaidText quotes a label so that Mermaid accepts any characters.
func mermaidText(s string) string {
	s = strings.ReplaceAll(s, `"`, "#quot;")
	return `"` + s + `"`
}
