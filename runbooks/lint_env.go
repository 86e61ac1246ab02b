package runbooks

import (
	"fmt"

	"github.com/opsrunbook/runbook/plan"

	"github.com/google/cel-go/cel"
)

// The type name of vars: its fields are added as each var is checked, in
// document order, which is also the order in which they become readable.
const varsTypeName = "runbook.vars"

// buildEnv declares this runbook's variables on top of the shared base
// environment: the main one for steps and outputs, and one per trigger kind.
func (l *linter) buildEnv() error {
	base := plan.MustBaseEnv()
	l.types = plan.NewTypeRegistry(base.CELTypeProvider())
	stepFields := make([]plan.Field, 0, len(l.stepIDs))
	for _, id := range l.stepIDs {
		stepFields = append(stepFields, plan.Field{Name: id, Type: plan.StepType(l.steps[id].outputs)})
	}
	l.varsType = plan.ObjectOf()
	var err error
	l.env, err = base.Extend(
		cel.CustomTypeProvider(l.types),
		cel.Variable(plan.VarParams, l.types.CelType(plan.ParamsType(l.params), "runbook.params")),
		cel.Variable(plan.VarSteps, l.types.CelType(plan.ObjectOf(stepFields...), "runbook.steps")),
		cel.Variable(plan.VarRun, l.types.CelType(plan.RunType, "runbook.run")),
		cel.Variable(plan.VarVars, l.types.CelType(l.varsType, varsTypeName)),
		cel.Variable(plan.VarSecrets, cel.MapType(cel.StringType, cel.StringType)),
		plan.NowFunction(nil),
	)
	if err != nil {
		return err
	}
	l.alertEnv, err = base.Extend(
		cel.CustomTypeProvider(l.types),
		cel.Variable(plan.VarAlert, l.types.CelType(plan.AlertType, "runbook.alert")),
	)
	if err != nil {
		return err
	}
	l.webhookEnv, err = base.Extend(
		cel.Variable(plan.VarBody, cel.DynType),
		cel.Variable(plan.VarHeaders, cel.MapType(cel.StringType, cel.StringType)),
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
