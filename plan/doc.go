// Package plan is the compiled contract between the compiler, the
// interpreter, the activities and the API: the plan types a runbook compiles
// into, the checked expressions and the evaluator that runs them, the value
// types and their conversions, params binding, and the one CEL environment
// every expression is checked and evaluated in.
//
// A Plan is immutable once compiled and is stored with each runbook version
// and carried in each run's workflow input, so its JSON layout is versioned
// (Version) and changes to it must keep old plans readable.
package plan
