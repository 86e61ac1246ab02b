package plan

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/ext"
)

// Limits on expressions. CostLimit bounds one evaluation at run time; the
// others bound what the parser accepts at validate time.
const (
	CostLimit = 1_000_000
	// MaxEstimatedCost refuses, at validate time, expressions whose worst
	// case (lists of MaxListItems, strings of MaxStringSize) costs more.
	MaxEstimatedCost = 10_000_000_000
	MaxListItems     = 10_000
	MaxStringSize    = 64 << 10
	// MaxNestedItems is the size a JSON value counts as at validate time
	// once an expression reaches it through a loop over JSON.
	MaxNestedItems = 100

	MaxExprLength    = 4096
	MaxExprNodes     = 1000
	MaxExprRecursion = 50
)

// The variables expressions read. Which are in scope depends on the field.
const (
	VarParams  = "params"
	VarSteps   = "steps"
	VarRun     = "run"
	VarSecrets = "secrets"
	VarOutputs = "outputs"
	VarError   = "error"
	VarAlert   = "alert"
	VarVars    = "vars"
	VarBody    = "body"    // webhook triggers
	VarHeaders = "headers" // webhook triggers
)

// ReservedNames may not be used as a forEach loop variable.
var ReservedNames = []string{VarParams, VarSteps, VarRun, VarSecrets, VarOutputs, VarError, VarAlert,
	VarVars, VarBody, VarHeaders, "now", "true", "false", "null", "in", "as", "break", "const", "continue", "else", "for",
	"function", "if", "import", "let", "loop", "package", "namespace", "return", "var", "void", "while"}

// Object types of the built-in variables.
var (
	RunType = ObjectOf(
		Field{Name: "id", Type: StringType, Description: "The run's id."},
		Field{Name: "name", Type: StringType, Description: "The runbook's name."},
		Field{Name: "version", Type: IntType, Description: "The runbook version the run started on."},
		Field{Name: "triggeredBy", Type: StringType, Description: "What triggered the run: the user, the schedule's name, the alert's fingerprint, the webhook's name or the parent run's id."},
		Field{Name: "startedBy", Type: StringType, Description: "The authenticated caller who started the run: a user, system:schedule or system:webhook (a sub-runbook run: its parent's)."},
		Field{Name: "trigger", Type: StringType, Description: "How the run started: api, schedule, alert, webhook or parent."},
		Field{Name: "startedAt", Type: TimestampType, Description: "When the run started."},
		Field{Name: "incident", Type: IntType, Description: "The id of the incident the run was started for (an alert group's trigger, or a start with incident); 0 for none, and in sub-runbook runs."},
	)
	ErrorType = ObjectOf(
		Field{Name: "step", Type: StringType, Description: "Id of the step that failed."},
		Field{Name: "message", Type: StringType, Description: "The failure message."},
		Field{Name: "type", Type: StringType, Description: "The error type, e.g. Timeout or ShellExitError."},
	)
	AlertType = ObjectOf(
		Field{Name: "status", Type: StringType, Description: "firing or resolved."},
		Field{Name: "labels", Type: MapOf(StringType)},
		Field{Name: "annotations", Type: MapOf(StringType)},
		Field{Name: "startsAt", Type: TimestampType},
		Field{Name: "fingerprint", Type: StringType},
	)
	voteType = ObjectOf(
		Field{Name: "user", Type: StringType},
		Field{Name: "decision", Type: StringType, Description: "approve or reject."},
		Field{Name: "comment", Type: StringType},
		Field{Name: "at", Type: TimestampType},
	)
	approvalFields = []Field{
		Field{Name: "decision", Type: StringType, Description: "approved or rejected."},
		Field{Name: "approvedBy", Type: ListOf(StringType), Description: "Users who approved."},
		Field{Name: "votes", Type: ListOf(voteType), Description: "Every vote in order."},
	}
	WaitForOutputs = ObjectOf(
		Field{Name: "received", Type: BoolType, Description: "Whether the event arrived before the timeout."},
		Field{Name: "payload", Type: AnyType, Description: "The event's JSON payload."},
		Field{Name: "sender", Type: StringType, Description: "Who posted the event."},
	)
	ForEachOutputs = ObjectOf(
		Field{Name: "succeeded", Type: IntType, Description: "Items whose body succeeded."},
		Field{Name: "failed", Type: IntType, Description: "Items whose body failed."},
		Field{Name: "results", Type: ListOf(AnyType), Description: "Per item, the outputs of the body's last step."},
	)
	NoOutputs = ObjectOf()
)

// ApprovalOutputs is the outputs type of an approval with the given inputs.
func ApprovalOutputs(inputs []Field) *Type {
	return ObjectOf(append(append([]Field(nil), approvalFields...),
		Field{Name: "inputs", Type: ObjectOf(inputs...), Description: "The values the deciding approver supplied."})...)
}

// NowFunction declares now(), the run's deterministic clock. The linter
// declares it without an implementation; the Evaluator binds its clock.
func NowFunction(clock func() time.Time) cel.EnvOption {
	if clock == nil {
		return cel.Function("now", cel.Overload("now_timestamp", nil, cel.TimestampType))
	}
	return cel.Function("now", cel.Overload("now_timestamp", nil, cel.TimestampType,
		cel.FunctionBinding(func(...ref.Val) ref.Val { return types.Timestamp{Time: clock()} })))
}

// StepType is the type of steps.<id>, given the type of its outputs.
func StepType(outputs *Type) *Type {
	return ObjectOf(
		Field{Name: "status", Type: StringType, Description: "pending, running, succeeded, failed, skipped, compensated or cancelled."},
		Field{Name: "outputs", Type: outputs},
		Field{Name: "startedAt", Type: TimestampType},
		Field{Name: "endedAt", Type: TimestampType},
	)
}

// The CEL extension libraries are pinned: left unversioned, each gives the
// newest functions of whatever cel-go is linked, and a dependency upgrade
// would change what stored plans and expressions mean (Kubernetes pins its
// libraries for the same reason). testdata/cel-functions.txt lists every
// function the environment declares; a test fails when it changes. Raising
// a version is a change of the format: say so in the changelog.
const (
	celOptionalVersion = 2
	celStringsVersion  = 5
	celListsVersion    = 3
	celMathVersion     = 3
	celEncodersVersion = 1
	celSetsVersion     = 0
)

var baseEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		cel.DefaultUTCTimeZone(true),
		cel.CrossTypeNumericComparisons(true),
		cel.OptionalTypes(cel.OptionalTypesVersion(celOptionalVersion)),
		ext.Strings(ext.StringsVersion(celStringsVersion)),
		ext.Lists(ext.ListsVersion(celListsVersion)),
		ext.Math(ext.MathVersion(celMathVersion)),
		ext.Encoders(ext.EncodersVersion(celEncodersVersion)),
		ext.Sets(ext.SetsVersion(celSetsVersion)),
		jsonFunction,
		cel.ParserExpressionSizeLimit(MaxExprLength),
		cel.ParserRecursionLimit(MaxExprRecursion),
		cel.ExpressionNodeLimit(MaxExprNodes),
	)
})

// TypeRegistry declares a runbook's object types (params, steps, outputs)
// to the CEL checker on top of the base environment's provider. At run time
// the values are plain maps, which CEL selects fields from the same way.
type TypeRegistry struct {
	types.Provider
	objects map[string]*Type
}

// NewTypeRegistry is a registry over base, declaring no object types yet.
func NewTypeRegistry(base types.Provider) *TypeRegistry {
	return &TypeRegistry{Provider: base, objects: map[string]*Type{}}
}

// FindStructType implements types.Provider.
func (r *TypeRegistry) FindStructType(name string) (*types.Type, bool) {
	if _, ok := r.objects[name]; ok {
		return types.NewTypeTypeWithParam(types.NewObjectType(name)), true
	}
	return r.Provider.FindStructType(name)
}

// FindStructFieldNames implements types.Provider.
func (r *TypeRegistry) FindStructFieldNames(name string) ([]string, bool) {
	if t, ok := r.objects[name]; ok {
		return t.FieldNames(), true
	}
	return r.Provider.FindStructFieldNames(name)
}

// FindStructFieldType implements types.Provider.
func (r *TypeRegistry) FindStructFieldType(name, field string) (*types.FieldType, bool) {
	if t, ok := r.objects[name]; ok {
		f, ok := t.Field(field)
		if !ok {
			return nil, false
		}
		return &types.FieldType{Type: r.CelType(f.Type, name+"."+field)}, true
	}
	return r.Provider.FindStructFieldType(name, field)
}

// CELType maps a Type to a CEL type, declaring objects under name.
func (r *TypeRegistry) CelType(t *Type, name string) *cel.Type {
	if t == nil {
		return cel.DynType
	}
	switch t.Kind {
	case KindString:
		return cel.StringType
	case KindInt:
		return cel.IntType
	case KindNumber:
		return cel.DoubleType
	case KindBool:
		return cel.BoolType
	case KindDuration:
		return cel.DurationType
	case KindTimestamp:
		return cel.TimestampType
	case KindList:
		return cel.ListType(r.CelType(t.Elem, name+".item"))
	case KindMap:
		return cel.MapType(cel.StringType, r.CelType(t.Elem, name+".value"))
	case KindObject:
		if _, ok := r.objects[name]; !ok {
			r.objects[name] = t
		}
		return cel.ObjectType(name)
	}
	return cel.DynType
}

// TypeOf maps a checked CEL type back to a Type.
func (r *TypeRegistry) TypeOf(ct *cel.Type) *Type {
	switch ct.Kind() {
	case types.StringKind:
		return StringType
	case types.IntKind, types.UintKind:
		return IntType
	case types.DoubleKind:
		return NumberType
	case types.BoolKind:
		return BoolType
	case types.DurationKind:
		return DurationType
	case types.TimestampKind:
		return TimestampType
	case types.ListKind:
		return ListOf(r.TypeOf(ct.Parameters()[0]))
	case types.MapKind:
		return MapOf(r.TypeOf(ct.Parameters()[1]))
	case types.StructKind:
		if t, ok := r.objects[ct.TypeName()]; ok {
			return t
		}
	}
	return AnyType
}

// DescribeCEL renders a CEL type in the format's own words.
func (r *TypeRegistry) DescribeCEL(ct *cel.Type) string {
	switch ct.Kind() {
	case types.DynKind, types.AnyKind:
		return "any"
	case types.NullTypeKind:
		return "null"
	case types.BytesKind:
		return "bytes"
	case types.StructKind:
		if _, ok := r.objects[ct.TypeName()]; ok {
			return "object " + strings.TrimPrefix(ct.TypeName(), "runbook.")
		}
	}
	return r.TypeOf(ct).String()
}

// Assignable reports whether a value of CEL type ct may flow where t is
// wanted. dyn is always accepted and checked when the run evaluates it.
func (r *TypeRegistry) Assignable(ct *cel.Type, t *Type) bool {
	k := ct.Kind()
	if t == nil || t.Kind == KindAny || k == types.DynKind || k == types.AnyKind {
		return true
	}
	switch t.Kind {
	case KindString:
		return k == types.StringKind
	case KindInt:
		return k == types.IntKind || k == types.UintKind
	case KindNumber:
		return k == types.DoubleKind || k == types.IntKind || k == types.UintKind
	case KindBool:
		return k == types.BoolKind
	case KindDuration:
		return k == types.DurationKind
	case KindTimestamp:
		return k == types.TimestampKind
	case KindList:
		return k == types.ListKind && r.Assignable(ct.Parameters()[0], t.Elem)
	case KindMap:
		if k == types.StructKind {
			return t.Elem == nil || t.Elem.Kind == KindAny
		}
		return k == types.MapKind && r.Assignable(ct.Parameters()[1], t.Elem)
	case KindObject:
		return k == types.MapKind || k == types.StructKind
	}
	return false
}

// Interpolatable reports whether a value of CEL type ct can be rendered
// into text inside a template.
func Interpolatable(ct *cel.Type) bool {
	switch ct.Kind() {
	case types.StringKind, types.IntKind, types.UintKind, types.DoubleKind, types.BoolKind,
		types.DurationKind, types.TimestampKind, types.DynKind, types.AnyKind, types.NullTypeKind:
		return true
	}
	return false
}

// ParamsType is the object type of params.
func ParamsType(params []Param) *Type {
	fields := make([]Field, len(params))
	for i, p := range params {
		fields[i] = Field{Name: p.Name, Type: p.Type, Description: p.Description}
	}
	return ObjectOf(fields...)
}

// MustBaseEnv is the pinned base environment every runbook extends.
func MustBaseEnv() *cel.Env {
	env, err := baseEnv()
	if err != nil {
		panic(fmt.Sprintf("plan: CEL environment: %v", err))
	}
	return env
}

// SizeBounds tells the cost estimator how large unknown lists, maps and
// strings may be.
type SizeBounds struct{}

// EstimateSize implements checker.CostEstimator.
func (SizeBounds) EstimateSize(n checker.AstNode) *checker.SizeEstimate {
	if n.ComputedSize() != nil {
		return nil
	}
	switch n.Type().Kind() {
	case types.ListKind, types.MapKind:
		return &checker.SizeEstimate{Min: 0, Max: MaxListItems}
	case types.StringKind, types.BytesKind:
		return &checker.SizeEstimate{Min: 0, Max: MaxStringSize}
	case types.DynKind, types.AnyKind:
		// A JSON value (an action's output, an event's payload): a string,
		// list or map. Its size is unknown until run time, where CostLimit
		// bounds the evaluation; here it counts realistically, so that
		// ordinary filters over JSON pass: MaxListItems at the top, and
		// MaxNestedItems once reached through a loop over it (pods of a
		// list, then their containers), since one document's nested lists
		// share its items rather than each holding as many.
		for _, p := range n.Path() {
			if strings.HasPrefix(p, "@") {
				return &checker.SizeEstimate{Min: 0, Max: MaxNestedItems}
			}
		}
		return &checker.SizeEstimate{Min: 0, Max: MaxListItems}
	}
	return nil
}

// EstimateCallCost implements checker.CostEstimator: the default costs.
func (SizeBounds) EstimateCallCost(string, string, *checker.AstNode, []checker.AstNode) *checker.CallEstimate {
	return nil
}

// jsonFunction declares json(value), which renders any value as compact
// JSON text with sorted keys, durations as "1m30s" and timestamps in RFC 3339
// (UTC): the way to put a map or a list into a template's text.
var jsonFunction = cel.Function("json", cel.Overload("json_dyn", []*cel.Type{cel.DynType}, cel.StringType,
	cel.UnaryBinding(func(v ref.Val) ref.Val {
		n, err := nativeValue(v)
		if err != nil {
			return types.NewErr("json: %v", err)
		}
		b, err := json.Marshal(JSONValue(n))
		if err != nil {
			return types.NewErr("json: %v", err)
		}
		return types.String(b)
	})))
