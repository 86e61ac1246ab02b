package runbooks

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/google/cel-go/cel"
)

// MaxForEachConcurrency bounds forEach.maxConcurrency.
const MaxForEachConcurrency = 100

// stepKindFields lists, per kind, the fields a step of that kind may set
// besides the common ones (id, name, description, if, continueOnError).
var stepKindFields = map[StepKind][]string{
	StepAction:   {"action", "with", "timeout", "retry", "repeat", "compensate"},
	StepApproval: {"approval"},
	StepParallel: {"parallel", "failFast"},
	StepGroup:    {"steps"},
	StepForEach:  {"forEach", "as", "maxConcurrency", "steps"},
	StepRunbook:  {"runbook"},
	StepSleep:    {"sleep"},
	StepWaitFor:  {"waitFor"},
}

var commonStepFields = []string{"id", "name", "description", "if", "continueOnError"}

// kindsOf lists the kinds a step sets, in the order the format lists them.
func kindsOf(s *Step) []StepKind {
	var kinds []StepKind
	add := func(set bool, k StepKind) {
		if set {
			kinds = append(kinds, k)
		}
	}
	add(s.Action.Set, StepAction)
	add(s.Approval != nil, StepApproval)
	add(s.Parallel.Set, StepParallel)
	add(s.Steps.Set && !s.ForEach.Set, StepGroup)
	add(s.ForEach.Set, StepForEach)
	add(s.Runbook != nil, StepRunbook)
	add(s.Sleep.Set, StepSleep)
	add(s.WaitFor != nil, StepWaitFor)
	return kinds
}

func kindNames() string {
	return "action, approval, parallel, steps, forEach, runbook, sleep or waitFor"
}

// setFields lists the YAML fields a step sets, with their positions.
func setFields(s *Step) map[string]Pos {
	out := map[string]Pos{}
	v := reflect.ValueOf(s).Elem()
	si := infoOf(v.Type())
	for _, f := range si.fields {
		fv := v.Field(f.index)
		switch x := fv.Addr().Interface().(type) {
		case *String:
			if x.Set {
				out[f.name] = x.Pos
			}
		case *Bool:
			if x.Set {
				out[f.name] = x.Pos
			}
		case *Int:
			if x.Set {
				out[f.name] = x.Pos
			}
		case *List[*Step]:
			if x.Set {
				out[f.name] = x.Pos
			}
		case *Map[Raw]:
			if x.Set {
				out[f.name] = x.Pos
			}
		default:
			if fv.Kind() == reflect.Pointer && !fv.IsNil() {
				out[f.name] = fv.Elem().FieldByName("Pos").Interface().(Pos)
			}
		}
	}
	return out
}

func (n *stepNode) conditional() bool {
	return n.step.If.Set || n.step.ContinueOnError.Value
}

// indexSteps gives every step a node, checks ids and kinds, and works out
// each step's output type, before any expression is checked.
func (l *linter) indexSteps() {
	spec := &l.doc.Spec
	for _, sec := range []struct {
		name  string
		steps []*Step
	}{{"spec.steps", spec.Steps.Items}, {"spec.onFailure", spec.OnFailure.Items}, {"spec.finally", spec.Finally.Items}} {
		l.indexList(sec.steps, sec.name, sec.name, nil)
	}
}

func (l *linter) indexList(steps []*Step, path, section string, parent *stepNode) {
	for i, s := range steps {
		spath := fmt.Sprintf("%s[%d]", path, i)
		n := &stepNode{step: s, id: s.ID.Value, path: spath, parent: parent, section: section, order: l.order}
		l.order++
		l.nodes[s] = n
		l.indexStep(n)
		switch n.kind {
		case StepParallel:
			l.indexList(s.Parallel.Items, spath+".parallel", section, n)
		case StepGroup, StepForEach:
			l.indexList(s.Steps.Items, spath+".steps", section, n)
		}
	}
}

func (l *linter) indexStep(n *stepNode) {
	s := n.step
	if s.ID.Set && !s.ID.bad {
		switch prev := l.steps[s.ID.Value]; {
		case !identRe.MatchString(s.ID.Value):
			l.r.errorf(s.ID.Pos, n.path+".id", "step id %q must be lowercase letters, digits and underscores, starting with a letter", s.ID.Value)
		case prev != nil:
			l.r.errorf(s.ID.Pos, n.path+".id", "duplicate step id %q (first used at line %d)", s.ID.Value, prev.step.ID.Pos.Line)
		default:
			l.steps[s.ID.Value] = n
			l.stepIDs = append(l.stepIDs, s.ID.Value)
			for a := n; a != nil; a = a.parent {
				a.subtree = append(a.subtree, s.ID.Value)
			}
		}
	}
	kinds := kindsOf(s)
	switch len(kinds) {
	case 0:
		l.r.errorf(s.Pos, n.path, "step %q does nothing; give it one of %s", s.ID.Value, kindNames())
		return
	case 1:
		n.kind = kinds[0]
	default:
		names := make([]string, len(kinds))
		for i, k := range kinds {
			names[i] = string(k)
			if k == StepGroup {
				names[i] = "steps"
			}
		}
		l.r.errorf(s.Pos, n.path, "step %q has %s; a step does exactly one thing", s.ID.Value, strings.Join(names, " and "))
		return
	}
	allowed := append(slices.Clone(commonStepFields), stepKindFields[n.kind]...)
	fields := setFields(s)
	for _, name := range sortedKeys(fields) {
		if slices.Contains(allowed, name) {
			continue
		}
		owner := "?"
		for _, k := range []StepKind{StepAction, StepApproval, StepParallel, StepGroup, StepForEach, StepRunbook, StepSleep, StepWaitFor} {
			if slices.Contains(stepKindFields[k], name) {
				owner = string(k)
				break
			}
		}
		l.r.errorf(fields[name], n.path+"."+name, "%s is only valid on %s steps, not on a %s step", name, owner, n.kind)
	}
	switch n.kind {
	case StepAction:
		if spec, ok := l.opts.Actions.Action(s.Action.Value); ok {
			n.outputs = spec.OutputType()
		}
	case StepApproval:
		n.outputs = approvalOutputs
	case StepWaitFor:
		n.outputs = waitForOutputs
	case StepForEach:
		n.outputs = forEachOutputs
	case StepRunbook:
		// Unresolved children leave outputs untyped so that reads of them
		// do not pile more errors onto the one about the child.
		if child := l.child(s.Runbook, n.path+".runbook"); child != nil {
			fields := make([]Field, len(child.Outputs))
			for i, o := range child.Outputs {
				fields[i] = Field{Name: o.Name, Type: o.Type}
			}
			n.outputs = ObjectOf(fields...)
		}
	default:
		n.outputs = noOutputs
	}
}

// child resolves a sub-runbook's plan, reporting when it cannot.
func (l *linter) child(sr *SubRunbook, path string) *Plan {
	if !sr.Name.Set {
		return nil
	}
	name := sr.Name.Value
	if name == l.doc.Metadata.Name.Value {
		l.r.errorf(sr.Name.Pos, path+".name", "runbook %q cannot run itself", name)
		return nil
	}
	if p, ok := l.out.children[name]; ok {
		return p
	}
	var p *Plan
	if l.opts.Runbooks != nil {
		p, _ = l.opts.Runbooks(name)
	}
	if p == nil {
		failed, cycle := false, false
		if l.opts.inSet != nil {
			failed, cycle = l.opts.inSet(name)
		}
		switch {
		case cycle: // reported once, as the cycle
		case failed:
			l.r.errorf(sr.Name.Pos, path+".name", "runbook %q has errors; fix them first", name)
		default:
			l.r.hinted(sr.Name.Pos, path+".name", "register it first, or validate it together with this file", "unknown runbook %q", name)
		}
		return nil
	}
	l.out.children[name] = p
	return p
}

// buildEnv declares params, steps, run and secrets for this runbook on top
// of the shared base environment.
func (l *linter) buildEnv() error {
	base := mustBaseEnv()
	l.types = newTypeRegistry(base.CELTypeProvider())
	stepFields := make([]Field, 0, len(l.stepIDs))
	for _, id := range l.stepIDs {
		stepFields = append(stepFields, Field{Name: id, Type: stepType(l.steps[id].outputs)})
	}
	var err error
	l.env, err = base.Extend(
		cel.CustomTypeProvider(l.types),
		cel.Variable(varParams, l.types.celType(paramsType(l.params), "runbook.params")),
		cel.Variable(varSteps, l.types.celType(ObjectOf(stepFields...), "runbook.steps")),
		cel.Variable(varRun, l.types.celType(runType, "runbook.run")),
		cel.Variable(varSecrets, cel.MapType(cel.StringType, cel.StringType)),
	)
	if err != nil {
		return err
	}
	l.alertEnv, err = base.Extend(
		cel.CustomTypeProvider(l.types),
		cel.Variable(varAlert, l.types.celType(alertType, "runbook.alert")),
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

// stepCtx is what the steps of one list share.
type stepCtx struct {
	env      *cel.Env
	loopVars []string
	section  string // "steps", "onFailure" or "finally", for messages
	guards   guards // status checks made by enclosing ifs
}

func (l *linter) lintAllSteps() {
	spec := &l.doc.Spec
	main := visibility{}
	l.lintList(spec.Steps.Items, "spec.steps", main, &stepCtx{env: l.env, section: "steps"})
	if len(spec.Steps.Items) == 0 && spec.Steps.Set && !spec.Steps.bad {
		l.r.errorf(spec.Steps.Pos, "spec.steps", "a runbook needs at least one step")
	}
	l.afterMain = main
	later := visibility{}
	for id := range main {
		later[id] = maybeNotRun
	}
	onFail := later.clone()
	errEnv := l.withVar(l.env, varError, l.types.celType(errorType, "runbook.error"))
	l.lintList(spec.OnFailure.Items, "spec.onFailure", onFail, &stepCtx{env: errEnv, section: "onFailure"})
	for id := range onFail {
		later[id] = maybeNotRun
	}
	l.lintList(spec.Finally.Items, "spec.finally", later, &stepCtx{env: l.env, section: "finally"})
}

// lintList checks steps in sequence, adding each to vis once it is done.
func (l *linter) lintList(steps []*Step, path string, vis visibility, ctx *stepCtx) {
	for i, s := range steps {
		l.lintStep(s, fmt.Sprintf("%s[%d]", path, i), vis, ctx)
	}
}

func (l *linter) nodeOf(s *Step) *stepNode {
	if n := l.nodes[s]; n != nil {
		return n
	}
	return &stepNode{step: s, id: s.ID.Value}
}

// lintStep checks one step with vis as what is readable before it, then
// records in vis what is readable after it.
func (l *linter) lintStep(s *Step, path string, vis visibility, ctx *stepCtx) {
	n := l.nodeOf(s)
	if s.If.Set {
		sc := &exprScope{env: ctx.env, vis: vis, from: n, field: "if", guards: ctx.guards}
		if e, _ := l.checkExpr(s.If.Value, stringSite(&s.If), path+".if", sc, BoolType); e != nil {
			l.out.exprs[&s.If] = e
			if g := ctx.guards.with(e.checked); len(e.checked) > 0 {
				inner := *ctx
				inner.guards = g
				ctx = &inner
			}
		}
	}
	if kinds := kindsOf(s); len(kinds) == 1 {
		switch kinds[0] {
		case StepAction:
			l.lintAction(s, n, path, vis, ctx)
		case StepApproval:
			l.lintApproval(s.Approval, path+".approval", &exprScope{env: ctx.env, vis: vis, from: n, field: "approval.message", guards: ctx.guards})
		case StepParallel:
			l.lintParallel(s, path, vis, ctx)
		case StepGroup:
			if len(s.Steps.Items) == 0 {
				l.r.errorf(s.Steps.Pos, path+".steps", "a group needs at least one step")
			}
			l.lintList(s.Steps.Items, path+".steps", vis, ctx)
		case StepForEach:
			l.lintForEach(s, n, path, vis, ctx)
		case StepRunbook:
			l.lintSubRunbook(s.Runbook, path+".runbook", &exprScope{env: ctx.env, vis: vis, from: n, field: "runbook.params", guards: ctx.guards})
		case StepSleep:
			l.duration(s.Sleep, path+".sleep")
		case StepWaitFor:
			l.lintWaitFor(s.WaitFor, path+".waitFor")
		}
	}
	if !s.ID.Set || l.steps[s.ID.Value] != n {
		return
	}
	vis[n.id] = finished
	if n.conditional() {
		// A skipped or failed step leaves itself and everything inside unsure.
		for id, c := range vis {
			if c < maybeSkipped && (id == n.id || n.encloses(l.steps[id])) {
				vis[id] = maybeSkipped
			}
		}
	}
}

func (l *linter) lintAction(s *Step, n *stepNode, path string, vis visibility, ctx *stepCtx) {
	spec, ok := l.opts.Actions.Action(s.Action.Value)
	if !ok {
		var names []string
		for _, a := range l.opts.Actions.Actions() {
			names = append(names, a.Name)
		}
		hint := suggest(s.Action.Value, names)
		if hint == "" {
			hint = "runbook actions lists them"
		}
		l.r.hinted(s.Action.Pos, path+".action", hint, "unknown action %q", s.Action.Value)
	} else {
		l.lintWith(spec, &s.With, s.Pos, path+".with", &exprScope{env: ctx.env, vis: vis, from: n, secrets: true, field: "with", guards: ctx.guards})
	}
	l.duration(s.Timeout, path+".timeout")
	if r := s.Retry; r != nil {
		l.lintRetry(r, path+".retry")
	}
	if r := s.Repeat; r != nil {
		rpath := path + ".repeat"
		if r.Until.Set && n.outputs != nil {
			env := l.withVar(ctx.env, varOutputs, l.types.celType(n.outputs, "runbook.steps."+n.id+".outputs"))
			sc := &exprScope{env: env, vis: vis, from: n, field: "repeat.until", guards: ctx.guards}
			if e, _ := l.checkExpr(r.Until.Value, stringSite(&r.Until), rpath+".until", sc, BoolType); e != nil {
				l.out.exprs[&r.Until] = e
			}
		}
		l.duration(r.Every, rpath+".every")
		l.duration(r.Timeout, rpath+".timeout")
	}
	if c := s.Compensate; c != nil {
		cpath := path + ".compensate"
		cspec, ok := l.opts.Actions.Action(c.Action.Value)
		if c.Action.Set && !ok {
			l.r.hinted(c.Action.Pos, cpath+".action", suggest(c.Action.Value, actionNames(l.opts.Actions)), "unknown action %q", c.Action.Value)
		}
		if ok {
			if l.steps[n.id] == n {
				vis[n.id] = finished // the undo runs after this step succeeded
			}
			l.lintWith(cspec, &c.With, c.Pos, cpath+".with", &exprScope{env: ctx.env, vis: vis, from: n, secrets: true, field: "compensate.with", guards: ctx.guards})
		}
	}
}

func actionNames(c Catalog) []string {
	var names []string
	for _, a := range c.Actions() {
		names = append(names, a.Name)
	}
	return names
}

// lintWith checks action inputs against the action's spec.
func (l *linter) lintWith(spec *ActionSpec, with *Map[Raw], stepPos Pos, path string, sc *exprScope) {
	given := map[string]bool{}
	for i := range with.Entries {
		e := &with.Entries[i]
		epath := joinPath(path, e.Key)
		f, ok := spec.Input(e.Key)
		if !ok {
			names := make([]string, len(spec.Inputs))
			for j, in := range spec.Inputs {
				names[j] = in.Name
			}
			l.r.hinted(e.KeyPos, epath, suggest(e.Key, names), "action %s has no input %q", spec.Name, e.Key)
			continue
		}
		given[e.Key] = true
		v := l.checkValue(e.Value.Node, f.Type, epath, sc)
		if v == nil {
			continue
		}
		if s, isStr := v.Lit.(string); v.IsLiteral() && isStr && len(f.Enum) > 0 && !slices.Contains(f.Enum, s) {
			l.r.hinted(e.Value.Pos, epath, suggest(s, f.Enum), "%q is not one of %s", s, strings.Join(f.Enum, ", "))
			continue
		}
		l.out.values[e.Value.Node] = v
	}
	at := with.Pos
	if !with.Set {
		at = stepPos
	}
	for _, f := range spec.Inputs {
		if f.Required && !given[f.Name] {
			l.r.errorf(at, path, "action %s needs input %q", spec.Name, f.Name)
		}
	}
	for _, group := range spec.ExactlyOne {
		if n := countGiven(group, given); n != 1 {
			l.r.errorf(at, path, "action %s needs exactly one of %s, got %d", spec.Name, strings.Join(group, ", "), n)
		}
	}
	for _, group := range spec.AtMostOne {
		if n := countGiven(group, given); n > 1 {
			l.r.errorf(at, path, "action %s takes at most one of %s", spec.Name, strings.Join(group, ", "))
		}
	}
}

func countGiven(group []string, given map[string]bool) int {
	n := 0
	for _, g := range group {
		if given[g] {
			n++
		}
	}
	return n
}

func (l *linter) lintRetry(r *Retry, path string) {
	if r.MaxAttempts.Set && r.MaxAttempts.Value < 1 {
		l.r.errorf(r.MaxAttempts.Pos, path+".maxAttempts", "maxAttempts must be at least 1, got %d", r.MaxAttempts.Value)
	}
	if r.Backoff.Set && r.Backoff.Value < 1 {
		l.r.errorf(r.Backoff.Pos, path+".backoff", "backoff must be at least 1, got %v", r.Backoff.Value)
	}
	initial, ok1 := l.duration(r.InitialInterval, path+".initialInterval")
	maxInt, ok2 := l.duration(r.MaxInterval, path+".maxInterval")
	if ok1 && ok2 && r.InitialInterval.Set && r.MaxInterval.Set && maxInt < initial {
		l.r.errorf(r.MaxInterval.Pos, path+".maxInterval", "maxInterval %s is less than initialInterval %s", r.MaxInterval.Value, r.InitialInterval.Value)
	}
	for i, t := range r.NonRetryable.Items {
		if t.Set && strings.TrimSpace(t.Value) == "" {
			l.r.errorf(t.Pos, fmt.Sprintf("%s.nonRetryable[%d]", path, i), "error type must not be empty")
		}
	}
}

func (l *linter) lintApproval(a *Approval, path string, sc *exprScope) {
	if a.Message.Set() {
		if v := l.checkValue(a.Message.Node, StringType, path+".message", sc); v != nil {
			l.out.values[a.Message.Node] = v
		}
	}
	users, groups := 0, 0
	if a.Approvers.Set && len(a.Approvers.Items) == 0 {
		l.r.errorf(a.Approvers.Pos, path+".approvers", "approvers must name at least one user or group:NAME")
	}
	for _, list := range []struct {
		name  string
		items []String
	}{{"approvers", a.Approvers.Items}, {"escalateTo", a.EscalateTo.Items}} {
		seen := map[string]bool{}
		for i, who := range list.items {
			p := fmt.Sprintf("%s.%s[%d]", path, list.name, i)
			v := strings.TrimSpace(who.Value)
			switch {
			case v == "" || v == "group:":
				l.r.errorf(who.Pos, p, "approver must be a user or group:NAME")
			case seen[v]:
				l.r.errorf(who.Pos, p, "duplicate approver %q", v)
			case strings.HasPrefix(v, "group:"):
				if list.name == "approvers" {
					groups++
				}
			default:
				if list.name == "approvers" {
					users++
				}
			}
			seen[v] = true
		}
	}
	if a.MinApprovals.Set {
		switch m := a.MinApprovals.Value; {
		case m < 1:
			l.r.errorf(a.MinApprovals.Pos, path+".minApprovals", "minApprovals must be at least 1, got %d", m)
		case groups == 0 && users > 0 && int(m) > users:
			l.r.errorf(a.MinApprovals.Pos, path+".minApprovals", "minApprovals is %d but only %d approvers are listed", m, users)
		}
	}
	l.duration(a.Timeout, path+".timeout")
	if a.OnTimeout.Value == "escalate" {
		if len(a.EscalateTo.Items) == 0 {
			l.r.errorf(a.OnTimeout.Pos, path+".onTimeout", "onTimeout escalate needs escalateTo")
		}
		if !a.Timeout.Set {
			l.r.errorf(a.OnTimeout.Pos, path+".onTimeout", "onTimeout escalate needs a timeout")
		}
	} else if a.EscalateTo.Set {
		l.r.warnf(a.EscalateTo.Pos, path+".escalateTo", "escalateTo has no effect unless onTimeout is escalate")
	}
}

func (l *linter) lintParallel(s *Step, path string, vis visibility, ctx *stepCtx) {
	branches := s.Parallel.Items
	if len(branches) == 0 {
		l.r.errorf(s.Parallel.Pos, path+".parallel", "parallel needs at least one branch")
	} else if len(branches) == 1 {
		l.r.warnf(s.Parallel.Pos, path+".parallel", "parallel with one branch runs nothing in parallel")
	}
	// Siblings are not readable from a branch: each branch's steps leave
	// vis before the next branch is checked, and all return afterwards.
	done := visibility{}
	for i, b := range branches {
		l.lintStep(b, fmt.Sprintf("%s.parallel[%d]", path, i), vis, ctx)
		for id, c := range vis.take(l.subtree(b)) {
			done[id] = c
		}
	}
	for id, c := range done {
		vis[id] = c
	}
}

// subtree lists the ids of a step and of every step inside it.
func (l *linter) subtree(s *Step) []string {
	if n := l.nodes[s]; n != nil {
		return n.subtree
	}
	return nil
}

func (l *linter) lintForEach(s *Step, n *stepNode, path string, vis visibility, ctx *stepCtx) {
	sc := &exprScope{env: ctx.env, vis: vis, from: n, field: "forEach", guards: ctx.guards}
	e, out := l.checkExpr(s.ForEach.Value, stringSite(&s.ForEach), path+".forEach", sc, ListOf(AnyType))
	if e != nil {
		l.out.exprs[&s.ForEach] = e
	}
	as := "item"
	if s.As.Set {
		as = s.As.Value
		switch {
		case !identRe.MatchString(as):
			l.r.errorf(s.As.Pos, path+".as", "loop variable %q must be lowercase letters, digits and underscores, starting with a letter", as)
			return
		case slices.Contains(reservedNames, as):
			l.r.errorf(s.As.Pos, path+".as", "loop variable %q shadows the reserved name %s", as, as)
			return
		}
	}
	if slices.Contains(ctx.loopVars, as) {
		at := s.As.Pos
		if !s.As.Set {
			at = s.ForEach.Pos
		}
		l.r.hinted(at, path+".as", "name it with as", "loop variable %q shadows the enclosing forEach's", as)
		return
	}
	if m := s.MaxConcurrency; m.Set && (m.Value < 1 || m.Value > MaxForEachConcurrency) {
		l.r.errorf(m.Pos, path+".maxConcurrency", "maxConcurrency must be between 1 and %d, got %d", MaxForEachConcurrency, m.Value)
	}
	if len(s.Steps.Items) == 0 {
		at := s.Steps.Pos
		if !s.Steps.Set {
			at = s.Pos
		}
		l.r.errorf(at, path+".steps", "forEach needs a steps body")
		return
	}
	elem := cel.DynType
	if out != nil && len(out.Parameters()) == 1 {
		elem = out.Parameters()[0]
	}
	body := &stepCtx{env: l.withVar(ctx.env, as, elem), loopVars: append(slices.Clone(ctx.loopVars), as), section: ctx.section, guards: ctx.guards}
	l.lintList(s.Steps.Items, path+".steps", vis, body)
	for _, b := range s.Steps.Items {
		vis.take(l.subtree(b)) // the body's steps stay inside the loop
	}
}

func (l *linter) lintSubRunbook(sr *SubRunbook, path string, sc *exprScope) {
	child := l.out.children[sr.Name.Value]
	if child == nil {
		return
	}
	given := map[string]bool{}
	for i := range sr.Params.Entries {
		e := &sr.Params.Entries[i]
		epath := joinPath(path+".params", e.Key)
		var p *PlanParam
		for j := range child.Params {
			if child.Params[j].Name == e.Key {
				p = &child.Params[j]
			}
		}
		if p == nil {
			names := make([]string, len(child.Params))
			for j, cp := range child.Params {
				names[j] = cp.Name
			}
			l.r.hinted(e.KeyPos, epath, suggest(e.Key, names), "runbook %s has no param %q", child.Name, e.Key)
			continue
		}
		given[e.Key] = true
		if v := l.checkValue(e.Value.Node, p.Type, epath, sc); v != nil {
			if v.IsLiteral() {
				for _, msg := range checkConstraints(p, v.Lit) {
					l.r.errorf(e.Value.Pos, epath, "%s", msg)
				}
			}
			l.out.values[e.Value.Node] = v
		}
	}
	for _, p := range child.Params {
		if p.Required && !p.HasDefault && !given[p.Name] {
			at := sr.Params.Pos
			if !sr.Params.Set {
				at = sr.Pos
			}
			l.r.errorf(at, path+".params", "runbook %s needs param %q", child.Name, p.Name)
		}
	}
}

func (l *linter) lintWaitFor(w *WaitFor, path string) {
	if w.Event.Set && !identRe.MatchString(strings.ReplaceAll(w.Event.Value, "-", "_")) {
		l.r.errorf(w.Event.Pos, path+".event", "event name %q must be lowercase letters, digits, dashes and underscores, starting with a letter", w.Event.Value)
	}
	l.duration(w.Timeout, path+".timeout")
	if w.OnTimeout.Value == "continue" && !w.Timeout.Set {
		l.r.warnf(w.OnTimeout.Pos, path+".onTimeout", "onTimeout has no effect without a timeout")
	}
}
