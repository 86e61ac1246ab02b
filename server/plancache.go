package server

import (
	"sync"

	"github.com/opsrunbook/runbook/plan"
)

// planCache keeps the decoded plan of each runbook's latest version
// (versions are immutable), so that the webhook route finds a trigger's
// key without decoding every plan on every request, signed or not.
type planCache struct {
	mu     sync.Mutex
	byName map[string]cachedPlan
}

type cachedPlan struct {
	version int
	plan    *plan.Plan
}

// latest returns the plans of versions (name -> latest version), from the
// cache or decoded once by load.
func (pc *planCache) latest(versions map[string]int, load func(name string, version int) (*plan.Plan, error)) (map[string]cachedPlan, error) {
	out := make(map[string]cachedPlan, len(versions))
	var missing []string
	pc.mu.Lock()
	for name, v := range versions {
		if cp, ok := pc.byName[name]; ok && cp.version == v {
			out[name] = cp
		} else {
			missing = append(missing, name)
		}
	}
	pc.mu.Unlock()
	for _, name := range missing {
		p, err := load(name, versions[name])
		if err != nil {
			return nil, err
		}
		out[name] = cachedPlan{version: versions[name], plan: p}
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.byName == nil {
		pc.byName = map[string]cachedPlan{}
	}
	for name := range pc.byName {
		if _, ok := versions[name]; !ok {
			delete(pc.byName, name) // no longer a runbook
		}
	}
	for _, name := range missing {
		if cp, ok := pc.byName[name]; !ok || cp.version < out[name].version {
			pc.byName[name] = out[name]
		}
	}
	return out, nil
}
