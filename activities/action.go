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

	"github.com/opsrunbook/runbook/plan"

	"go.temporal.io/sdk/temporal"
)

// Input is what the interpreter sends an action: the inputs it could render
// in the workflow, and the ones that read secrets, which only the activity
// renders (so secret values never enter workflow history).
type Input struct {
	Runbook string         `json:"runbook"`
	RunID   string         `json:"runId"`
	StepID  string         `json:"stepId"`
	Inputs  map[string]any `json:"inputs,omitempty"`
	// Deferred inputs read secrets: their templates, and the variables
	// those templates read (encoded with runbooks.EncodeVars).
	Deferred map[string]*plan.Value `json:"deferred,omitempty"`
	Vars     map[string]any         `json:"vars,omitempty"`

	secrets *callSecrets // what this call masks; set by withRedaction
}

// Output is what an action returns: its outputs, as its spec declares them.
type Output struct {
	Outputs map[string]any `json:"outputs"`
	Attempt int            `json:"attempt,omitempty"` // which attempt produced them
}

// Error types an interpreter or a retry policy can branch on.
const (
	ErrBadInput       = "BadInput"       // never retried
	ErrSecret         = "SecretNotFound" // never retried
	ErrShellExit      = "ShellExitError"
	ErrHTTPStatus     = "HTTPStatusError"
	ErrUnreachable    = "Unreachable"
	ErrNotifyRejected = "NotifyRejected"
	ErrBadOutput      = "BadOutput"         // never retried
	ErrSecretSource   = "SecretSourceError" // the secrets could not be listed
	ErrPanic          = "Panic"             // the action's code panicked
)

// errorTypes is a spec's Errors: the types the action itself raises, then
// those every action can fail with before or around its own code.
func errorTypes(own ...string) []string {
	return append(own, ErrBadInput, ErrSecret, ErrSecretSource, ErrPanic)
}

// badInput is a permanent failure: running again cannot fix the input.
func badInput(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrBadInput, nil)
}

// Handler runs one action.
type Handler func(ctx context.Context, in Input) (Output, error)

// Env is what actions need from the worker.
type Env struct {
	Secrets SecretStore
	HTTP    *http.Client // nil: http.DefaultClient

	mu       sync.Mutex
	redactor *Redactor // for the values Secrets held last
}

// prepared is an action's input after secrets were resolved and defaults
// applied.
type prepared struct {
	values map[string]any
}

// prepare renders deferred inputs with their secrets, applies the spec's
// defaults and checks the types of everything. Messages may hold secret
// values: the redaction wrapper masks them on the way out.
func (e *Env) prepare(spec *plan.ActionSpec, in Input) (*prepared, error) {
	p := &prepared{values: map[string]any{}}
	for k, v := range in.Inputs {
		p.values[k] = v
	}
	if len(in.Deferred) > 0 {
		if err := e.renderDeferred(in, p); err != nil {
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

func (e *Env) renderDeferred(in Input, p *prepared) error {
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
			return temporal.NewNonRetryableApplicationError(fmt.Sprintf("secret %s: this worker has no secret source", name), ErrSecret, nil)
		}
		val, err := e.Secrets.Secret(name)
		if err != nil {
			return temporal.NewNonRetryableApplicationError(err.Error(), ErrSecret, nil)
		}
		if val != "" && len(val) < MinSecretLen {
			return temporal.NewNonRetryableApplicationError(fmt.Sprintf("secret %s: %d bytes is too short to be redacted (the minimum is %d); use a longer value", name, len(val), MinSecretLen), ErrSecret, nil)
		}
		secrets[name] = val
		in.secrets.add(val)
	}
	vars, err := plan.DecodeVars(in.Vars)
	if err != nil {
		return badInput("variables: %v", err)
	}
	vars["secrets"] = secrets
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

// finish makes an action's result (the redaction wrapper masks it).
func (p *prepared) finish(out map[string]any, err error) (Output, error) {
	if err != nil {
		return Output{}, err
	}
	return Output{Outputs: out}, nil
}
