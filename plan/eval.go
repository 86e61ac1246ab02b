package plan

import (
	"fmt"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// Evaluator evaluates a plan's expressions. Each source is compiled into a
// program once and reused; the plan was type-checked when it was compiled,
// so here every variable is dynamic. Evaluation reads no clock and no
// environment, so it is deterministic. An Evaluator is not safe for
// concurrent use.
type Evaluator struct {
	env      *cel.Env
	programs map[string]cel.Program
	clock    func() time.Time
}

// Vars are the variables an expression reads: params, steps, run, and in
// some places outputs, error, alert, secrets and loop variables. Values are
// JSON-like Go values plus time.Duration and time.Time.
type Vars map[string]any

// NewEvaluator prepares an environment for the plan's expressions,
// including the loop variables of every forEach (sub-runbooks included).
func NewEvaluator(p *Plan) (*Evaluator, error) {
	names := map[string]bool{}
	var visit func(*Plan)
	visit = func(p *Plan) {
		p.Walk(func(s *Step) bool {
			if s.As != "" {
				names[s.As] = true
			}
			if s.Runbook != nil && s.Runbook.Plan != nil {
				visit(s.Runbook.Plan)
			}
			return true
		})
	}
	visit(p)
	ev, err := NewEvaluatorFor(SortedKeys(names))
	if err != nil {
		return nil, fmt.Errorf("evaluator for %q: %w", p.Name, err)
	}
	return ev, nil
}

// NewEvaluatorFor prepares an environment in which the given variable
// names (beside the built-in ones) are declared; an activity uses it to
// render the inputs the workflow deferred to it.
func NewEvaluatorFor(extra []string) (*Evaluator, error) {
	names := map[string]bool{VarParams: true, VarSteps: true, VarRun: true, VarSecrets: true,
		VarOutputs: true, VarError: true, VarAlert: true, VarVars: true, VarBody: true, VarHeaders: true}
	for _, n := range extra {
		names[n] = true
	}
	ev := &Evaluator{programs: map[string]cel.Program{}}
	opts := make([]cel.EnvOption, 0, len(names)+1)
	for _, n := range SortedKeys(names) {
		opts = append(opts, cel.Variable(n, cel.DynType))
	}
	opts = append(opts, NowFunction(ev.now))
	env, err := MustBaseEnv().Extend(opts...)
	if err != nil {
		return nil, err
	}
	ev.env = env
	return ev, nil
}

// SetClock sets what now() returns. The interpreter passes the workflow's
// deterministic clock; without a clock, now() is the zero time.
func (ev *Evaluator) SetClock(clock func() time.Time) { ev.clock = clock }

func (ev *Evaluator) now() time.Time {
	if ev.clock == nil {
		return time.Time{}
	}
	return ev.clock()
}

// Duration resolves a duration field: fixed, or evaluated now. Expressions
// may give a duration or a string such as "15m"; the result must be positive.
func (ev *Evaluator) Duration(d Duration, vars Vars) (time.Duration, error) {
	if d.Expr == nil {
		return d.D, nil
	}
	v, err := ev.Eval(d.Expr, vars)
	if err != nil {
		return 0, err
	}
	var out time.Duration
	switch x := v.(type) {
	case time.Duration:
		out = x
	case string:
		if out, err = ParseDuration(x); err != nil {
			return 0, &EvalError{Expr: d.Expr, Err: err}
		}
	default:
		return 0, &EvalError{Expr: d.Expr, Err: fmt.Errorf("want a duration, got %s", describeValue(v))}
	}
	if out <= 0 {
		return 0, &EvalError{Expr: d.Expr, Err: fmt.Errorf("duration must be positive, got %s", FormatDuration(out))}
	}
	return out, nil
}

// Count resolves a count field: fixed, or evaluated now.
func (ev *Evaluator) Count(c Count, vars Vars) (int, error) {
	if c.Expr == nil {
		return c.N, nil
	}
	v, err := ev.Eval(c.Expr, vars)
	if err != nil {
		return 0, err
	}
	n, ok := v.(int64)
	if !ok {
		return 0, &EvalError{Expr: c.Expr, Err: fmt.Errorf("want an int, got %s", describeValue(v))}
	}
	return int(n), nil
}

// EvalError is an expression that failed at run time.
type EvalError struct {
	Expr *Expr
	Err  error
}

func (e *EvalError) Error() string {
	return fmt.Sprintf("expression %q (line %d): %v", e.Expr.Src, e.Expr.Pos.Line, e.Err)
}

func (e *EvalError) Unwrap() error { return e.Err }

func (ev *Evaluator) program(src string) (cel.Program, error) {
	if p, ok := ev.programs[src]; ok {
		return p, nil
	}
	parsed, iss := ev.env.Parse(src)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	p, err := ev.env.Program(parsed, cel.CostLimit(CostLimit))
	if err != nil {
		return nil, err
	}
	ev.programs[src] = p
	return p, nil
}

// Eval evaluates x and returns a JSON-like Go value (durations as
// time.Duration, timestamps as time.Time).
func (ev *Evaluator) Eval(x *Expr, vars Vars) (any, error) {
	p, err := ev.program(x.Src)
	if err != nil {
		return nil, &EvalError{Expr: x, Err: err}
	}
	act := make(map[string]any, len(vars))
	for k, v := range vars {
		act[k] = celInput(v)
	}
	out, _, err := p.Eval(act)
	if err != nil {
		return nil, &EvalError{Expr: x, Err: err}
	}
	v, err := nativeValue(out)
	if err != nil {
		return nil, &EvalError{Expr: x, Err: err}
	}
	return v, nil
}

// EvalBool evaluates a condition.
func (ev *Evaluator) EvalBool(x *Expr, vars Vars) (bool, error) {
	v, err := ev.Eval(x, vars)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, &EvalError{Expr: x, Err: fmt.Errorf("want a bool, got %s", describeValue(v))}
	}
	return b, nil
}

// Render evaluates a compiled Value: literals as they are, expressions by
// type, templates as text.
func (ev *Evaluator) Render(v *Value, vars Vars) (any, error) {
	switch v.Kind {
	case ValueExpr:
		return ev.Eval(v.Expr, vars)
	case ValueTmpl:
		var b strings.Builder
		for _, p := range v.Tmpl {
			if p.Expr == nil {
				b.WriteString(p.Text)
				continue
			}
			x, err := ev.Eval(p.Expr, vars)
			if err != nil {
				return nil, err
			}
			b.WriteString(Text(x))
		}
		return b.String(), nil
	case ValueList:
		out := make([]any, len(v.List))
		for i, e := range v.List {
			x, err := ev.Render(e, vars)
			if err != nil {
				return nil, err
			}
			out[i] = x
		}
		return out, nil
	case ValueMap:
		out := make(map[string]any, len(v.Map))
		for _, k := range SortedKeys(v.Map) {
			x, err := ev.Render(v.Map[k], vars)
			if err != nil {
				return nil, err
			}
			out[k] = x
		}
		return out, nil
	}
	return v.Lit, nil
}

// Text renders a value into template text.
func Text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case time.Duration:
		return FormatDuration(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	case float64:
		return fmt.Sprintf("%g", x)
	}
	return fmt.Sprint(v)
}

// nativeValue converts a CEL value to a JSON-like Go value.
func nativeValue(v ref.Val) (any, error) {
	switch x := v.(type) {
	case types.Null:
		return nil, nil
	case types.Bool:
		return bool(x), nil
	case types.Int:
		return int64(x), nil
	case types.Uint:
		return int64(x), nil
	case types.Double:
		return float64(x), nil
	case types.String:
		return string(x), nil
	case types.Bytes:
		return string(x), nil
	case types.Duration:
		return x.Duration, nil
	case types.Timestamp:
		return x.Time, nil
	case *types.Err:
		return nil, x
	}
	if l, ok := v.(traits.Lister); ok {
		n := int(l.Size().(types.Int))
		out := make([]any, n)
		for i := 0; i < n; i++ {
			e, err := nativeValue(l.Get(types.Int(i)))
			if err != nil {
				return nil, err
			}
			out[i] = e
		}
		return out, nil
	}
	if m, ok := v.(traits.Mapper); ok {
		out := map[string]any{}
		it := m.Iterator()
		for it.HasNext() == types.True {
			k := it.Next()
			ks, ok := k.(types.String)
			if !ok {
				return nil, fmt.Errorf("map key %v is not a string", k)
			}
			e, err := nativeValue(m.Get(k))
			if err != nil {
				return nil, err
			}
			out[string(ks)] = e
		}
		return out, nil
	}
	if o, ok := v.(interface{ IsZeroValue() bool }); ok && o.IsZeroValue() {
		return nil, nil
	}
	return v.Value(), nil
}

// CELValue converts a JSON-like value of type t into what expressions
// expect: durations as time.Duration, timestamps as time.Time, whole
// numbers as int64 where t says int.
func CELValue(v any, t *Type) any {
	if t == nil || v == nil {
		return v
	}
	switch t.Kind {
	case KindDuration:
		if s, ok := v.(string); ok {
			if d, err := ParseDuration(s); err == nil {
				return d
			}
		}
	case KindTimestamp:
		if s, ok := v.(string); ok {
			if ts, err := time.Parse(time.RFC3339Nano, s); err == nil {
				return ts
			}
		}
	case KindInt:
		if f, ok := v.(float64); ok && f == float64(int64(f)) {
			return int64(f)
		}
	case KindNumber:
		if i, ok := v.(int64); ok {
			return float64(i)
		}
	case KindList:
		if l, ok := v.([]any); ok {
			out := make([]any, len(l))
			for i, e := range l {
				out[i] = CELValue(e, t.Elem)
			}
			return out
		}
	case KindMap, KindObject:
		if m, ok := v.(map[string]any); ok {
			out := make(map[string]any, len(m))
			for k, e := range m {
				ft := t.Elem
				if t.Kind == KindObject {
					f, _ := t.Field(k)
					ft = f.Type
				}
				out[k] = CELValue(e, ft)
			}
			return out
		}
	}
	return v
}

// ParamVars converts bound params to the values expressions read.
func (p *Plan) ParamVars(params map[string]any) map[string]any {
	out := make(map[string]any, len(params))
	for _, pp := range p.Params {
		if v, ok := params[pp.Name]; ok {
			out[pp.Name] = CELValue(v, pp.Type)
		}
	}
	return out
}
