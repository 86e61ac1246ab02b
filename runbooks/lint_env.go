package runbooks

import (
	"fmt"

	"github.com/google/cel-go/cel"
)

// The type name of vars: its fields are added as each var is checked, in
// document order, which is also the order in which they become readable.
const varsTypeName = "runbook.vars"

// buildEnv declares this runbook's variables on top of the shared base
// environment: the main one for steps and outputs, and one per trigger kind.
func (l *linter) buildEnv() error {
	base := mustBaseEnv()
	l.types = newTypeRegistry(base.CELTypeProvider())
	stepFields := make([]Field, 0, len(l.stepIDs))
	for _, id := range l.stepIDs {
		stepFields = append(stepFields, Field{Name: id, Type: stepType(l.steps[id].outputs)})
	}
	l.varsType = ObjectOf()
	var err error
	l.env, err = base.Extend(
		cel.CustomTypeProvider(l.types),
		cel.Variable(varParams, l.types.celType(paramsType(l.params), "runbook.params")),
		cel.Variable(varSteps, l.types.celType(ObjectOf(stepFields...), "runbook.steps")),
		cel.Variable(varRun, l.types.celType(runType, "runbook.run")),
		cel.Variable(varVars, l.types.celType(l.varsType, varsTypeName)),
		cel.Variable(varSecrets, cel.MapType(cel.StringType, cel.StringType)),
		nowFunction(nil),
	)
	if err != nil {
		return err
	}
	l.alertEnv, err = base.Extend(
		cel.CustomTypeProvider(l.types),
		cel.Variable(varAlert, l.types.celType(alertType, "runbook.alert")),
	)
	if err != nil {
		return err
	}
	l.webhookEnv, err = base.Extend(
		cel.Variable(varBody, cel.DynType),
		cel.Variable(varHeaders, cel.MapType(cel.StringType, cel.StringType)),
	)
	return err
}

// withVar returns env extended by one variable, cached per scope.
func (l *linter) withVar(env *cel.Env, name string, t *cel.Type) *cel.Env {
	key := fmt.Sprintf("%p/%s/%s", env, name, t)
	if e, ok := l.scopes[key]; ok {
		return e
	}
	e, err := env.Extend(cel.Variable(name, t))
	if err != nil {
		panic(fmt.Sprintf("runbooks: extend environment with %s: %v", name, err))
	}
	l.scopes[key] = e
	return e
}
