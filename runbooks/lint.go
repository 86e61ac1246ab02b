package runbooks

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	_ "time/tzdata" // time zones validate the same on every machine

	"github.com/opsrunbook/runbook/plan"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"
)

// APIVersion is the format version this package reads.
const APIVersion = "runbook/v1"

var (
	runbookNameRe = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)
	identRe       = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	secretRe      = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,62}$`)
)

// cronParser accepts five-field specs and descriptors (@daily, @every 1h).
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Options configure Lint and Compile.
type Options struct {
	// Actions is the catalog action steps are checked against.
	Actions plan.Catalog
	// Runbooks resolves a sub-runbook's name to its compiled plan; nil
	// resolves none.
	Runbooks func(name string) (*plan.Plan, bool)
	// RunbookNames lists the names Runbooks resolves, for "did you mean"
	// hints on an unknown name; nil offers none.
	RunbookNames func() []string

	// inSet tells, within BuildSet, why a runbook of the set has no plan.
	inSet func(name string) (failed, cycle bool)
}

// Checked is a document that passed lint, with what lint learned about it;
// Compile turns it into a Plan.
type Checked struct {
	Diagnostics Diagnostics // warnings only

	doc         *Document
	src         []byte
	actions     plan.Catalog
	params      []plan.Param
	exprs       map[*String]*plan.Expr
	values      map[*yaml.Node]*plan.Value
	durations   map[*String]plan.Duration
	counts      map[*yaml.Node]plan.Count
	maxErrors   map[*yaml.Node]*plan.MaxErrors
	inputs      map[*Approval][]plan.Param
	schedules   map[*Schedule]map[string]any
	outputTypes map[string]*plan.Type
	children    map[string]*plan.Plan
	steps       map[string]*stepNode
	nodes       map[*Step]*stepNode
	vars        map[string]*varDecl
}

// linter holds the state of one Lint call.
type linter struct {
	r          *reporter
	doc        *Document
	opts       Options
	types      *plan.TypeRegistry
	env        *cel.Env // params, steps, run, secrets
	alertEnv   *cel.Env // alert only
	webhookEnv *cel.Env // body and headers
	vars       map[string]*varDecl
	varsType   *plan.Type // the fields of vars, added as each var is checked
	scopes     map[string]*cel.Env
	parsed     map[string]*parsedExpr
	checked    map[checkKey]*checkedExpr
	tests      map[*plan.Expr]*exprTests
	params     []plan.Param
	secrets    map[string]bool
	steps      map[string]*stepNode // by id, valid unique ids only
	nodes      map[*Step]*stepNode  // every step
	stepIDs    []string
	order      int
	// afterMain is what spec.outputs may read: the main steps once done.
	afterMain visibility
	out       *Checked
}

// Lint checks a parsed document completely and returns every problem. The
// Checked result is nil when any problem is an error.
func Lint(doc *Document, src []byte, opts Options) (*Checked, Diagnostics) {
	if opts.Actions == nil {
		opts.Actions = plan.NewCatalog()
	}
	l := &linter{
		r:       &reporter{file: doc.file},
		doc:     doc,
		opts:    opts,
		scopes:  map[string]*cel.Env{},
		parsed:  map[string]*parsedExpr{},
		checked: map[checkKey]*checkedExpr{},
		tests:   map[*plan.Expr]*exprTests{},
		secrets: map[string]bool{},
		steps:   map[string]*stepNode{},
		nodes:   map[*Step]*stepNode{},
		vars:    map[string]*varDecl{},
		out: &Checked{
			doc: doc, src: src, actions: opts.Actions,
			exprs:       map[*String]*plan.Expr{},
			values:      map[*yaml.Node]*plan.Value{},
			durations:   map[*String]plan.Duration{},
			counts:      map[*yaml.Node]plan.Count{},
			maxErrors:   map[*yaml.Node]*plan.MaxErrors{},
			inputs:      map[*Approval][]plan.Param{},
			schedules:   map[*Schedule]map[string]any{},
			outputTypes: map[string]*plan.Type{},
			children:    map[string]*plan.Plan{},
		},
	}
	l.header()
	l.lintParams()
	l.lintSecrets()
	l.declareSpecVars()
	l.indexSteps()
	if err := l.buildEnv(); err != nil {
		l.r.errorf(CodeInternal, doc.Pos, "", "building the expression environment: %v", err)
		return nil, l.r.diags
	}
	l.lintSpecVars()
	l.lintRunSettings()
	l.lintSchedules()
	l.lintTriggers()
	l.lintAllSteps()
	l.lintOutputs()
	l.r.diags.Sort()
	if l.r.diags.HasErrors() {
		return nil, l.r.diags
	}
	l.out.params = l.params
	l.out.steps = l.steps
	l.out.nodes = l.nodes
	l.out.vars = l.vars
	l.out.Diagnostics = l.r.diags
	return l.out, l.r.diags
}

func (l *linter) header() {
	d := l.doc
	if d.APIVersion.Set && d.APIVersion.Value != APIVersion {
		l.r.hinted(CodeInvalidValue, d.APIVersion.Pos, "apiVersion", "use "+APIVersion, "unsupported apiVersion %q", d.APIVersion.Value)
	}
	if d.Kind.Set && d.Kind.Value != "Runbook" {
		l.r.hinted(CodeInvalidValue, d.Kind.Pos, "kind", plan.Suggest(d.Kind.Value, []string{"Runbook", KindFreeze}), "kind must be Runbook (or Freeze, a change freeze), got %q", d.Kind.Value)
	}
	if n := d.Metadata.Name; n.Set && !runbookNameRe.MatchString(n.Value) {
		l.r.errorf(CodeInvalidValue, n.Pos, "metadata.name", "name %q must be lowercase letters, digits and dashes, start with a letter, at most 63 characters", n.Value)
	}
	for i, o := range d.Metadata.Owners.Items {
		if o.Set && strings.TrimSpace(o.Value) == "" {
			l.r.errorf(CodeRequired, o.Pos, plan.Path("metadata.owners").Index(i), "owner must not be empty")
		}
	}
}

func (l *linter) lintParams() {
	seen := map[string]plan.Pos{}
	for i, p := range l.doc.Spec.Params.Items {
		path := plan.Path("spec.params").Index(i)
		name := p.Name.Value
		valid := p.Name.Set && p.Type.Set
		switch {
		case !p.Name.Set:
		case !identRe.MatchString(name):
			l.r.errorf(CodeInvalidValue, p.Name.Pos, path.Field("name"), "param name %q must be lowercase letters, digits and underscores, starting with a letter", name)
			valid = false
		case seen[name] != plan.Pos{}:
			l.r.errorf(CodeDuplicate, p.Name.Pos, path.Field("name"), "duplicate param %q (first declared at line %d)", name, seen[name].Line)
			valid = false
		default:
			seen[name] = p.Name.Pos
		}
		// A param with bad constraints is still declared, so expressions
		// that read it are checked instead of reported as unknown.
		pp := l.lintParam(p, path)
		if p.Fixed.Value {
			pp.Fixed = true
			if !p.Default.Set() {
				l.r.hinted(CodeRequired, p.Fixed.Pos, path.Field("fixed"), "give the value as default", "a fixed param needs a default")
			}
		}
		if valid {
			l.params = append(l.params, pp)
		}
	}
}

func (l *linter) lintParam(p *Param, path plan.Path) plan.Param {
	pp := plan.Param{Name: p.Name.Value, Description: p.Description.Value, Required: p.Required.Value, Pattern: p.Pattern.Value}
	ok := true
	kind := p.Type.Value
	if p.Items.Set && kind != string(plan.KindList) {
		l.r.errorf(CodeNotAllowed, p.Items.Pos, path.Field("items"), "items is only valid for list params")
		ok = false
	}
	pp.Type = plan.ParamType(kind, p.Items.Value)
	scalar := pp.Type
	if scalar.Kind == plan.KindList {
		scalar = scalar.Elem // constraints apply to each item
	}
	if p.Pattern.Set {
		if scalar.Kind != plan.KindString {
			l.r.errorf(CodeNotAllowed, p.Pattern.Pos, path.Field("pattern"), "pattern is only valid for string params (or lists of strings)")
			ok = false
		} else if _, err := regexp.Compile(p.Pattern.Value); err != nil {
			l.r.errorf(CodeInvalidValue, p.Pattern.Pos, path.Field("pattern"), "invalid RE2 pattern: %v", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
			ok = false
		} else if !anchored(p.Pattern.Value) {
			l.r.add(SeverityWarning, CodeUnanchoredPattern, p.Pattern.Pos, path.Field("pattern"), fmt.Sprintf("use %q", anchor(p.Pattern.Value)),
				fmt.Sprintf("pattern %q is not anchored: it accepts any value that contains a match", p.Pattern.Value))
		}
	}
	for _, b := range []struct {
		n    Number
		name string
		dst  **float64
	}{{p.Min, "min", &pp.Min}, {p.Max, "max", &pp.Max}} {
		if !b.n.Set || b.n.bad {
			continue
		}
		if scalar.Kind != plan.KindInt && scalar.Kind != plan.KindNumber {
			l.r.errorf(CodeNotAllowed, b.n.Pos, path.Field(b.name), "%s is only valid for int and number params", b.name)
			ok = false
			continue
		}
		v := b.n.Value
		*b.dst = &v
	}
	if pp.Min != nil && pp.Max != nil && *pp.Min > *pp.Max {
		l.r.errorf(CodeInvalidValue, p.Max.Pos, path.Field("max"), "max %v is less than min %v", *pp.Max, *pp.Min)
		ok = false
	}
	if p.Enum.Set {
		if len(p.Enum.Items) == 0 {
			l.r.errorf(CodeRequired, p.Enum.Pos, path.Field("enum"), "enum must list at least one value")
			ok = false
		}
		for i, e := range p.Enum.Items {
			v, good := l.literal(e.Node, scalar, path.Field("enum").Index(i))
			if good {
				pp.Enum = append(pp.Enum, v)
			} else {
				ok = false
			}
		}
	}
	if p.Default.Set() {
		epath := path.Field("default")
		v, good := l.literal(p.Default.Node, pp.Type, epath)
		if good && ok { // constraints are only worth checking when they are valid
			for _, msg := range plan.CheckConstraints(&pp, v) {
				l.r.errorf(CodeInvalidValue, p.Default.Pos, epath, "default %s", msg)
			}
		}
		pp.Default, pp.HasDefault = v, good
		if p.Required.Value {
			l.r.warnf(CodeNoEffect, p.Required.Pos, path.Field("required"), "required has no effect when a default is given")
		}
	}
	return pp
}

// literal converts a YAML node to a value of type t, reporting problems
// at the exact sub-value. Templates are refused: these values are literal.
func (l *linter) literal(n *yaml.Node, t *plan.Type, path plan.Path) (any, bool) {
	pos := map[plan.Path]plan.Pos{}
	raw, err := nodeValue(n, "", pos)
	if err != nil {
		l.r.errorf(codeOf(err), posOf(n), path, "%v", err)
		return nil, false
	}
	if s, isStr := raw.(string); isStr && hasTemplate(s) {
		l.r.errorf(CodeNotAllowed, posOf(n), path, "expressions are not allowed here; give a literal value")
		return nil, false
	}
	var probs []plan.ValueProblem
	v := plan.CoerceProblems(raw, t, "", &probs)
	for _, p := range probs {
		l.r.errorf(problemCode(p), pos[p.Sub], path.Join(p.Sub), "%s", p.Msg)
	}
	return v, len(probs) == 0
}

func (l *linter) lintSecrets() {
	for i, s := range l.doc.Spec.Secrets.Items {
		path := plan.Path("spec.secrets").Index(i)
		switch {
		case !s.Set:
		case !secretRe.MatchString(s.Value):
			l.r.errorf(CodeInvalidValue, s.Pos, path, "secret name %q must be uppercase letters, digits and underscores, starting with a letter", s.Value)
		case l.secrets[s.Value]:
			l.r.errorf(CodeDuplicate, s.Pos, path, "duplicate secret %q", s.Value)
		default:
			l.secrets[s.Value] = true
		}
	}
}

func (l *linter) paramByName(name string) *plan.Param {
	for i := range l.params {
		if l.params[i].Name == name {
			return &l.params[i]
		}
	}
	return nil
}

func (l *linter) paramNames() []string {
	names := make([]string, len(l.params))
	for i, p := range l.params {
		names[i] = p.Name
	}
	return names
}

func (l *linter) secretNames() []string { return plan.SortedKeys(l.secrets) }

// duration checks an optional positive duration field and records it for
// Compile. With a scope, the field may instead be one ${{ }} expression of
// type duration (or a string such as "15m"), evaluated when the step
// starts; the returned duration is then 0 and ok false.
func (l *linter) duration(s *String, path plan.Path, sc *exprScope) (time.Duration, bool) {
	if !s.Set || s.bad {
		return 0, true
	}
	if hasTemplate(s.Value) {
		if sc == nil {
			l.r.errorf(CodeNotAllowed, s.Pos, path, "expressions are not allowed here; give a duration such as 15m")
			return 0, false
		}
		parts, err := parseTemplate(s.Value)
		if err != nil || len(parts) != 1 || !parts[0].isExpr {
			l.r.hinted(CodeExprSyntax, s.Pos, path, `write "${{ expression }}" and nothing else`, "a duration expression must be one whole template")
			return 0, false
		}
		site := stringSite(s)
		site.offset = parts[0].offset
		e, out := l.checkExpr(parts[0].expr, site, path, sc, nil)
		if e == nil {
			return 0, false
		}
		if k := out.Kind(); k != types.DurationKind && k != types.StringKind && k != types.DynKind {
			l.r.errorf(CodeExprType, e.Pos, path, "must be a duration, but the expression is %s", l.types.DescribeCEL(out))
			return 0, false
		}
		l.out.durations[s] = plan.Duration{Expr: e}
		return 0, false
	}
	d, err := plan.ParseDuration(s.Value)
	if err != nil {
		l.r.errorf(CodeInvalidValue, s.Pos, path, "%v", err)
		return 0, false
	}
	if d <= 0 {
		l.r.errorf(CodeInvalidValue, s.Pos, path, "duration must be positive, got %s", s.Value)
		return 0, false
	}
	l.out.durations[s] = plan.Duration{D: d}
	return d, true
}

func (l *linter) lintRunSettings() {
	spec := &l.doc.Spec
	l.duration(&spec.Timeout, "spec.timeout", &exprScope{env: l.env, field: "spec.timeout"})
	l.lintOnStepFailure(spec.OnStepFailure, nil, "spec.onStepFailure", &exprScope{env: l.env, field: "spec.onStepFailure"})
	if c := spec.Concurrency; c != nil && c.Key.Set {
		sc := &exprScope{env: l.env, field: "concurrency.key"}
		if e, _ := l.checkExpr(c.Key.Value, stringSite(&c.Key), "spec.concurrency.key", sc, plan.StringType); e != nil {
			l.out.exprs[&c.Key] = e
		}
	}
}

func (l *linter) lintSchedules() {
	names := map[string]bool{}
	for i, s := range l.doc.Spec.Schedules.Items {
		path := plan.Path("spec.schedules").Index(i)
		if s.Name.Set {
			if !runbookNameRe.MatchString(s.Name.Value) {
				l.r.errorf(CodeInvalidValue, s.Name.Pos, path.Field("name"), "schedule name %q must be lowercase letters, digits and dashes, starting with a letter", s.Name.Value)
			} else if names[s.Name.Value] {
				l.r.errorf(CodeDuplicate, s.Name.Pos, path.Field("name"), "duplicate schedule %q", s.Name.Value)
			}
			names[s.Name.Value] = true
		}
		if s.Cron.Set {
			if strings.Contains(s.Cron.Value, "TZ=") {
				l.r.hinted(CodeInvalidValue, s.Cron.Pos, path.Field("cron"), "use the timezone field", "time zone prefixes are not allowed in cron")
			} else if _, err := cronParser.Parse(s.Cron.Value); err != nil {
				l.r.hinted(CodeInvalidValue, s.Cron.Pos, path.Field("cron"), `five fields "minute hour day-of-month month day-of-week", or @hourly, @daily, @weekly, @monthly, @every 1h`,
					"invalid cron %q: %v", s.Cron.Value, err)
			}
		}
		if s.Timezone.Set {
			if _, err := time.LoadLocation(s.Timezone.Value); err != nil || s.Timezone.Value == "" || s.Timezone.Value == "Local" {
				l.r.hinted(CodeInvalidValue, s.Timezone.Pos, path.Field("timezone"), "an IANA name such as Europe/Berlin or America/New_York", "unknown time zone %q", s.Timezone.Value)
			}
		}
		l.duration(&s.CatchupWindow, path.Field("catchupWindow"), nil)
		values := map[string]any{}
		given := map[string]bool{}
		for _, e := range s.Params.Entries {
			epath := path.Field("params").Key(e.Key)
			given[e.Key] = true
			p := l.paramByName(e.Key)
			if p == nil {
				l.r.hinted(CodeUnknownParam, e.KeyPos, epath, plan.Suggest(e.Key, l.paramNames()), "unknown param %q", e.Key)
				continue
			}
			if p.Fixed {
				l.r.errorf(CodeNotAllowed, e.KeyPos, epath, "param %q is fixed by the runbook and cannot be set", e.Key)
				continue
			}
			v, ok := l.literal(e.Value.Node, p.Type, epath)
			if !ok {
				continue
			}
			for _, msg := range plan.CheckConstraints(p, v) {
				l.r.errorf(CodeInvalidValue, e.Value.Pos, epath, "%s", msg)
			}
			values[e.Key] = v
		}
		l.requireParams(given, s.Params.Pos, s.Pos, path, fmt.Sprintf("schedule %q", s.Name.Value))
		l.out.schedules[s] = values
	}
}

// requireParams reports required params without a default that a schedule
// or trigger does not give, since every run it starts would fail.
func (l *linter) requireParams(given map[string]bool, at, fallback plan.Pos, path plan.Path, what string) {
	if at == (plan.Pos{}) {
		at = fallback
	}
	for _, p := range l.params {
		if _, ok := given[p.Name]; !ok && p.Required && !p.HasDefault {
			l.r.errorf(CodeRequired, at, path, "%s does not give required param %q", what, p.Name)
		}
	}
}

func (l *linter) lintOutputs() {
	outs := &l.doc.Spec.Outputs
	if !outs.Set {
		return
	}
	sc := &exprScope{env: l.env, vis: l.afterMain, field: "spec.outputs", vars: true}
	for i := range outs.Entries {
		e := &outs.Entries[i]
		path := plan.Path("spec.outputs").Key(e.Key)
		if !identRe.MatchString(e.Key) {
			l.r.errorf(CodeInvalidValue, e.KeyPos, path, "output name %q must be lowercase letters, digits and underscores, starting with a letter", e.Key)
			continue
		}
		if x, ct := l.checkExpr(e.Value.Value, stringSite(&e.Value), path, sc, nil); x != nil {
			l.out.exprs[&e.Value] = x
			l.out.outputTypes[e.Key] = l.types.TypeOf(ct)
		}
	}
}
