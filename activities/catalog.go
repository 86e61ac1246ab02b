package activities

import "github.com/opsrunbook/runbook/plan"

// Catalog returns the specs of every registered action, the set the
// compiler checks runbooks against.
func Catalog() plan.SpecCatalog {
	c := make(plan.SpecCatalog, len(registry))
	for name, a := range registry {
		c[name] = a.spec
	}
	return c
}

// Handlers returns the implementation of every action in Catalog, by name,
// each behind the redaction of secrets (withRedaction).
func (e *Env) Handlers() map[string]Handler {
	hs := make(map[string]Handler, len(registry))
	for name, a := range registry {
		hs[name] = e.handler(a)
	}
	return hs
}
