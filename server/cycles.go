package server

import (
	"strings"

	"github.com/opsrunbook/runbook/plan"

	"github.com/opsrunbook/runbook/runbooks"
)

// cycles reports each sub-runbook step of doc whose child, as registered,
// runs doc's runbook again through its embedded plans: the cycle
// `runbook validate` refuses within a set of files, found here among the
// registered runbooks. resolve gives a registered runbook's latest plan.
func cycles(file string, doc *runbooks.Document, resolve func(name string) (*plan.Plan, bool)) runbooks.Diagnostics {
	name := doc.Metadata.Name.Value
	var out runbooks.Diagnostics
	for s := range doc.All() {
		if s.Runbook == nil || !s.Runbook.Name.Set {
			continue
		}
		if child, ok := resolve(s.Runbook.Name.Value); ok {
			if chain := reaches(child, name, []string{name, child.Name}); chain != nil {
				out = append(out, runbooks.Diagnostic{File: file, Pos: s.Runbook.Name.Pos, Severity: runbooks.SeverityError, Code: runbooks.CodeCycle,
					Message: "runbooks run each other in a cycle: " + strings.Join(chain, " -> ")})
			}
		}
	}
	return out
}

// reaches returns the chain from p's embedded children to a runbook named
// target, or nil.
func reaches(p *plan.Plan, target string, chain []string) []string {
	var found []string
	p.Walk(func(s *plan.Step) bool {
		if s.Runbook == nil || s.Runbook.Plan == nil {
			return true
		}
		next := append(chain[:len(chain):len(chain)], s.Runbook.Plan.Name)
		if s.Runbook.Plan.Name == target {
			found = next
		} else {
			found = reaches(s.Runbook.Plan, target, next)
		}
		return found == nil
	})
	return found
}
