package runbooks

import "github.com/opsrunbook/runbook/plan"

// Code names the class of a diagnostic, for tools that branch on it. The set
// is closed and the strings are stable: a new kind of problem gets a new code,
// and an existing code never changes meaning. docs/diagnostics.md lists them.
type Code string

const (
	// CodeSyntax: the file is not one YAML document of acceptable size.
	CodeSyntax Code = "syntax"
	// CodeUnknownField: a mapping key that the schema, the action's inputs or
	// the value's type does not have.
	CodeUnknownField Code = "unknown-field"
	// CodeTypeMismatch: a value of the wrong kind, such as a list where a
	// string belongs.
	CodeTypeMismatch Code = "type-mismatch"
	// CodeRequired: something that must be given is missing or empty: a field,
	// an action input, a child runbook's param, at least one step.
	CodeRequired Code = "required"
	// CodeInvalidValue: a value of the right kind that is not acceptable: a
	// malformed name, a number out of range, a value outside an enum, a bad
	// duration, cron expression, pattern or time zone.
	CodeInvalidValue Code = "invalid-value"
	// CodeDuplicate: a name or key given twice where it must be unique.
	CodeDuplicate Code = "duplicate"
	// CodeConflict: fields that exclude each other are given together.
	CodeConflict Code = "conflict"
	// CodeNotAllowed: a field or an expression given where it does not apply.
	CodeNotAllowed Code = "not-allowed"
	// CodeUnknownAction: an action the worker does not have.
	CodeUnknownAction Code = "unknown-action"
	// CodeUnknownRunbook: a sub-runbook that is not registered.
	CodeUnknownRunbook Code = "unknown-runbook"
	// CodeInvalidRunbook: a sub-runbook that has errors of its own.
	CodeInvalidRunbook Code = "invalid-runbook"
	// CodeCycle: runbooks that run each other, or a runbook that runs itself.
	CodeCycle Code = "cycle"
	// CodeUnknownStep: an expression reads a step id the runbook does not have.
	CodeUnknownStep Code = "unknown-step"
	// CodeUnknownParam: a param the runbook (or the child runbook) does not declare.
	CodeUnknownParam Code = "unknown-param"
	// CodeUnknownVar: an expression reads a var no step sets.
	CodeUnknownVar Code = "unknown-var"
	// CodeUnknownSecret: a secret not declared in spec.secrets.
	CodeUnknownSecret Code = "unknown-secret"
	// CodeUnknownOutput: an expression reads a field or output a step does not have.
	CodeUnknownOutput Code = "unknown-output"
	// CodeScope: an expression reads what its field may not read: steps,
	// vars or secrets out of reach, or a whole map instead of one entry.
	CodeScope Code = "scope"
	// CodeMaybeAbsent: an expression reads a value that may not exist (an
	// optional param, a skipped step's outputs) without checking first.
	CodeMaybeAbsent Code = "maybe-absent"
	// CodeExprSyntax: an expression or ${{ }} template that does not parse, or
	// a template where one whole expression belongs.
	CodeExprSyntax Code = "expr-syntax"
	// CodeExprType: an expression that does not type-check, or whose type does
	// not fit its field.
	CodeExprType Code = "expr-type"
	// CodeExprCost: an expression whose worst-case cost is over the limit.
	CodeExprCost Code = "expr-cost"
	// CodeUnpinnedParam: a param a run may choose freely reaches a program,
	// code, a path, environment names or a host.
	CodeUnpinnedParam Code = "unpinned-param"
	// CodeUnsignedHeader: a trigger reads a webhook header the signature does not cover.
	CodeUnsignedHeader Code = "unsigned-header"
	// CodeUnanchoredPattern: a param pattern that matches anywhere in the value.
	CodeUnanchoredPattern Code = "unanchored-pattern"
	// CodeNoEffect: a field or a step that changes nothing, such as a step
	// after an unconditional exit.
	CodeNoEffect Code = "no-effect"
	// CodeHistorySize: a loop whose history events pass one execution's
	// budget (a warning: the run hands over to a new execution) or Temporal's
	// limit where it cannot hand over.
	CodeHistorySize Code = "history-size"
	// CodePayloadSize: a compiled plan too large for a run's input.
	CodePayloadSize Code = "payload-size"
	// CodeInternal: the linter itself failed; report it as a bug.
	CodeInternal Code = "internal"
)

// Codes lists every code, in the order docs/diagnostics.md documents them.
var Codes = []Code{
	CodeSyntax, CodeUnknownField, CodeTypeMismatch, CodeRequired, CodeInvalidValue, CodeDuplicate,
	CodeConflict, CodeNotAllowed, CodeUnknownAction, CodeUnknownRunbook, CodeInvalidRunbook, CodeCycle,
	CodeUnknownStep, CodeUnknownParam, CodeUnknownVar, CodeUnknownSecret, CodeUnknownOutput, CodeScope,
	CodeMaybeAbsent, CodeExprSyntax, CodeExprType, CodeExprCost, CodeUnpinnedParam, CodeUnsignedHeader,
	CodeUnanchoredPattern, CodeNoEffect, CodeHistorySize, CodePayloadSize, CodeInternal,
}

// problemCode gives the code of a value's problem.
func problemCode(p plan.ValueProblem) Code {
	switch p.Kind {
	case plan.ProblemInvalid:
		return CodeInvalidValue
	case plan.ProblemUnknownField:
		return CodeUnknownField
	case plan.ProblemRequired:
		return CodeRequired
	}
	return CodeTypeMismatch
}
