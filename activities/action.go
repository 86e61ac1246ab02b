package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/steplog"

	"go.temporal.io/sdk/temporal"
)

// errorTypes is a spec's Errors: the types the action itself raises, then
// those every action can fail with before or around its own code.
func errorTypes(own ...string) []string {
	return append(own, plan.ErrBadInput, plan.ErrSecret, plan.ErrSecretSource, plan.ErrPanic, plan.ErrOutputTooLarge)
}

// badInput is a permanent failure: running again cannot fix the input.
func badInput(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), plan.ErrBadInput, nil)
}

// Handler runs one action.
type Handler func(ctx context.Context, in plan.ActionInput) (plan.ActionOutput, error)

// Env is what actions need from the worker.
type Env struct {
	Secrets SecretStore
	HTTP    *http.Client // nil: http.DefaultClient
	// Logs keeps the lines steps print (the records database); nil: only
	// the bounded tail in a failed step's error is kept.
	Logs steplog.Sink
	// PublicURL is where users reach the web console
	// (RUNBOOK_PUBLIC_URL): an approval's or a decision's notification
	// ends with the link to its page under it. "": no link.
	PublicURL string

	mu        sync.Mutex
	redactor  *Redactor // for the values Secrets held last
	logWarned atomic.Bool
}

// prepared is an action's input after secrets were resolved and defaults
// applied.
type prepared struct {
	values map[string]any
}

// prepare renders deferred inputs with their secrets, applies the spec's
// defaults and checks the types of everything. Messages may hold secret
// values: the redaction wrapper masks them on the way out.
func (e *Env) prepare(ctx context.Context, spec *plan.ActionSpec, in plan.ActionInput) (*prepared, error) {
	p := &prepared{values: map[string]any{}}
	for k, v := range in.Inputs {
		p.values[k] = v
	}
	if len(in.Deferred) > 0 {
		if err := e.renderDeferred(ctx, in, p); err != nil {
			return nil, err
		}
	}
	var probs []string
	for _, f := range spec.Inputs {
		v, ok := p.values[f.Name]
		if !ok || v == nil {
			if f.Default != nil {
				p.values[f.Name] = f.Default
			} else if f.Required {
				probs = append(probs, fmt.Sprintf("input %q is required", f.Name))
			}
			continue
		}
		cv, err := plan.Coerce(v, f.Type)
		if err != nil {
			probs = append(probs, fmt.Sprintf("input %q: %s", f.Name, err))
			continue
		}
		p.values[f.Name] = cv
	}
	for k := range p.values {
		if _, ok := spec.Input(k); !ok {
			probs = append(probs, fmt.Sprintf("unknown input %q", k))
		}
	}
	if len(probs) > 0 {
		return nil, badInput("action %s: %s", spec.Name, strings.Join(probs, "; "))
	}
	return p, nil
}

func (e *Env) renderDeferred(ctx context.Context, in plan.ActionInput, p *prepared) error {
	names := map[string]bool{}
	for _, v := range in.Deferred {
		v.Exprs(func(x *plan.Expr) {
			for _, s := range x.Secrets {
				names[s] = true
			}
		})
	}
	secrets := map[string]any{}
	for _, name := range slices.Sorted(maps.Keys(names)) {
		if e.Secrets == nil {
			return temporal.NewNonRetryableApplicationError(fmt.Sprintf("secret %s: this worker has no secret source", name), plan.ErrSecret, nil)
		}
		val, err := e.Secrets.Secret(name)
		if err != nil {
			return temporal.NewNonRetryableApplicationError(err.Error(), plan.ErrSecret, nil)
		}
		if val != "" && len(val) < MinSecretLen {
			return temporal.NewNonRetryableApplicationError(fmt.Sprintf("secret %s: %d bytes is too short to be redacted (the minimum is %d); use a longer value", name, len(val), MinSecretLen), plan.ErrSecret, nil)
		}
		secrets[name] = val
		secretsOf(ctx).add(val)
	}
	vars, err := plan.DecodeVars(in.Vars)
	if err != nil {
		return badInput("variables: %v", err)
	}
	vars[plan.VarSecrets] = secrets
	ev, err := plan.NewEvaluatorFor(slices.Sorted(maps.Keys(vars)))
	if err != nil {
		return err
	}
	for _, k := range slices.Sorted(maps.Keys(in.Deferred)) {
		v, err := ev.Render(in.Deferred[k], vars)
		if err != nil {
			return badInput("input %q: %v", k, err)
		}
		p.values[k] = plan.JSONValue(v)
	}
	return nil
}

// decode fills a typed struct from the prepared values.
func (p *prepared) decode(dst any) error {
	b, err := json.Marshal(p.values)
	if err != nil {
		return badInput("inputs: %v", err)
	}
	if err := json.Unmarshal(b, dst); err != nil {
		return badInput("inputs: %v", err)
	}
	return nil
}
