package activities

import (
	"context"
	"fmt"
	"reflect"

	"github.com/opsrunbook/runbook/plan"

	"go.temporal.io/sdk/activity"
)

// runFunc is an action's code: it gets the inputs its spec declares,
// decoded into In, and returns the outputs its spec declares. Only a
// handler from Env.Handlers calls it, so all it returns is redacted.
type runFunc[In any] func(ctx context.Context, c call, in In) (map[string]any, error)

// call is what an action's code knows beyond its inputs: the worker's
// environment and the step it runs for.
type call struct {
	*Env
	Runbook, RunID, StepID string
	Link                   string // the console page of an announcement (plan.ActionInput.Link)
	Item                   int    // -1 outside a forEach
	Attempt                int    // of the step, counting its earlier calls
}

// log writes msg to the worker's log with the run and step, when the
// action runs as an activity, and returns it; secrets are masked in it
// first.
func (c call) log(ctx context.Context, level, msg string) string {
	msg = redact(ctx, msg)
	if !activity.IsActivity(ctx) {
		return msg
	}
	logger, kv := activity.GetLogger(ctx), []any{"run", c.RunID, "step", c.StepID}
	switch level {
	case "warn":
		logger.Warn(msg, kv...)
	case "error":
		logger.Error(msg, kv...)
	default:
		logger.Info(msg, kv...)
	}
	return msg
}

// action is a registered action: its spec, the Go type its inputs
// decode into, and its code bound to that type.
type action struct {
	spec *plan.ActionSpec
	in   reflect.Type
	bind func(e *Env) Handler // the handler without its wrappers
}

// registry holds every action, by name; each action's file adds its own
// with register.
var registry = map[string]action{}

// register adds an action to the catalog and to the handlers. It panics
// when the package is initialised, so in every test and before a worker
// starts, if In does not match the spec's inputs (see checkInputs) or the
// name is taken.
func register[In any](spec *plan.ActionSpec, run runFunc[In]) struct{} {
	a, err := newAction(spec, run)
	if err != nil {
		panic(err)
	}
	if _, dup := registry[spec.Name]; dup {
		panic(fmt.Sprintf("action %s is registered twice", spec.Name))
	}
	registry[spec.Name] = a
	return struct{}{}
}

func newAction[In any](spec *plan.ActionSpec, run runFunc[In]) (action, error) {
	in := reflect.TypeFor[In]()
	if err := checkInputs(spec, in); err != nil {
		return action{}, err
	}
	return action{spec: spec, in: in, bind: func(e *Env) Handler { return adapt(e, spec, run) }}, nil
}

// adapt makes run a Handler: it renders and checks the inputs against
// spec, decodes them into In, and wraps the outputs.
func adapt[In any](e *Env, spec *plan.ActionSpec, run runFunc[In]) Handler {
	return func(ctx context.Context, in plan.ActionInput) (plan.ActionOutput, error) {
		p, err := e.prepare(ctx, spec, in)
		if err != nil {
			return plan.ActionOutput{}, err
		}
		var typed In
		if err := p.decode(&typed); err != nil {
			return plan.ActionOutput{}, err
		}
		out, err := run(ctx, call{Env: e, Runbook: in.Runbook, RunID: in.RunID, StepID: in.StepID, Link: in.Link, Item: itemOf(in), Attempt: attemptOf(ctx, in)}, typed)
		if err != nil {
			return plan.ActionOutput{}, err
		}
		return plan.ActionOutput{Outputs: out}, nil
	}
}

// handler is a's handler for e, the one path out of an action: it
// heartbeats if the spec says so, masks secrets in whatever the action
// returns, and refuses outputs past plan.MaxOutputBytes.
func (e *Env) handler(a action) Handler {
	h := a.bind(e)
	if a.spec.Heartbeats {
		h = withHeartbeat(h)
	}
	return withOutputBound(e.withRedaction(h))
}
