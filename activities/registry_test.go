package activities

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/opsrunbook/runbook/plan"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
)

// handlerOf is the handler Env.Handlers gives spec's action, which the
// tests call; it fails a call whose outputs are not those the spec
// declares, so that every test of an action checks its output names.
func handlerOf(e *Env, spec *plan.ActionSpec) Handler {
	h := e.handler(registry[spec.Name])
	return func(ctx context.Context, in plan.ActionInput) (plan.ActionOutput, error) {
		out, err := h(ctx, in)
		if err != nil {
			return out, err
		}
		var probs []string
		for k := range out.Outputs {
			if _, ok := spec.OutputType().Field(k); !ok {
				probs = append(probs, fmt.Sprintf("output %q is not in the spec", k))
			}
		}
		for _, f := range spec.Outputs {
			if _, ok := out.Outputs[f.Name]; !ok {
				probs = append(probs, fmt.Sprintf("output %q is missing", f.Name))
			}
		}
		if len(probs) > 0 {
			slices.Sort(probs)
			return out, fmt.Errorf("%s: %s", spec.Name, strings.Join(probs, "; "))
		}
		return out, nil
	}
}

// Every registered action's input struct names each input of its spec
// once, by its json tag, with a Go type that holds the input's type.
// (register already refuses any other; this names the culprit.)
func TestEveryActionsInputsMatchItsSpec(t *testing.T) {
	if len(registry) < 19 {
		t.Errorf("%d actions registered", len(registry))
	}
	for name, a := range registry {
		if name != a.spec.Name {
			t.Errorf("%s is registered as %s", a.spec.Name, name)
		}
		if err := checkInputs(a.spec, a.in); err != nil {
			t.Error(err)
		}
	}
}

func TestCheckInputs(t *testing.T) {
	spec := &plan.ActionSpec{Name: "t", Inputs: []plan.Field{
		{Name: "name", Type: plan.StringType},
		{Name: "port", Type: plan.IntType},
		{Name: "tags", Type: plan.ListOf(plan.StringType)},
		{Name: "env", Type: plan.MapOf(plan.StringType)},
		{Name: "data", Type: plan.AnyType},
		{Name: "wait", Type: plan.DurationType},
	}}
	type good struct {
		Name string            `json:"name"`
		Port int64             `json:"port"`
		Tags []string          `json:"tags"`
		Env  map[string]string `json:"env"`
		Data any               `json:"data"`
		Wait string            `json:"wait"`
	}
	type misspelt struct {
		Nmae string            `json:"nmae"`
		Port int               `json:"port"`
		Tags []string          `json:"tags"`
		Env  map[string]string `json:"env"`
		Data any               `json:"data"`
		Wait string            `json:"wait"`
	}
	type wrongTypes struct {
		Name string         `json:"name"`
		Port string         `json:"port"`
		Tags []any          `json:"tags"`
		Env  map[string]any `json:"env"`
		Data map[string]any `json:"data"`
		Wait int64          `json:"wait"`
	}
	type badTags struct {
		Name string            `json:"name,omitempty"`
		Port int               `json:"port"`
		Tags []string          `json:"tags"`
		Env  map[string]string `json:"env"`
		Data any               `json:"data"`
		Wait string
	}
	// Inputs declared once for several actions (the s3 ones) are an
	// untagged embedded struct, whose fields encoding/json decodes as the
	// outer's; two levels deep too.
	type waitPart struct {
		Wait string `json:"wait"`
	}
	type sharedPart struct {
		Data any `json:"data"`
		waitPart
	}
	type embedded struct {
		Name string            `json:"name"`
		Port int64             `json:"port"`
		Tags []string          `json:"tags"`
		Env  map[string]string `json:"env"`
		sharedPart
	}
	// Tagged, it is one input named by the tag, and its fields are none.
	type taggedEmbedded struct {
		Name     string            `json:"name"`
		Port     int64             `json:"port"`
		Tags     []string          `json:"tags"`
		Env      map[string]string `json:"env"`
		Data     any               `json:"data"`
		waitPart `json:"more"`
	}
	type pointerEmbedded struct {
		Name string            `json:"name"`
		Port int64             `json:"port"`
		Tags []string          `json:"tags"`
		Env  map[string]string `json:"env"`
		Data any               `json:"data"`
		*waitPart
	}
	type misspeltWait struct {
		Wiat string `json:"wiat"`
	}
	type misspeltEmbedded struct {
		Name string            `json:"name"`
		Port int64             `json:"port"`
		Tags []string          `json:"tags"`
		Env  map[string]string `json:"env"`
		Data any               `json:"data"`
		misspeltWait
	}
	for _, tc := range []struct {
		name string
		in   reflect.Type
		want string
	}{
		{"good", reflect.TypeFor[good](), ""},
		{"embedded", reflect.TypeFor[embedded](), ""},
		{"tagged embedded", reflect.TypeFor[taggedEmbedded](), `action t: field waitPart: want an exported field tagged json:"<input>", without options; input "wait" has no field`},
		{"pointer embedded", reflect.TypeFor[pointerEmbedded](), `action t: field waitPart: want an exported field tagged json:"<input>", without options; input "wait" has no field`},
		{"misspelt in an embedded struct", reflect.TypeFor[misspeltEmbedded](), `action t: field Wiat: no input "wiat"; input "wait" has no field`},
		{"misspelt", reflect.TypeFor[misspelt](), `action t: field Nmae: no input "nmae"; input "name" has no field`},
		{"wrong types", reflect.TypeFor[wrongTypes](), `action t: field Port is string, input "port" is int; ` +
			`field Tags is []interface {}, input "tags" is list<string>; ` +
			`field Env is map[string]interface {}, input "env" is map<string, string>; ` +
			`field Data is map[string]interface {}, input "data" is any; ` +
			`field Wait is int64, input "wait" is duration`},
		{"bad tags", reflect.TypeFor[badTags](), `action t: field Name: want an exported field tagged json:"<input>", without options; ` +
			`field Wait: want an exported field tagged json:"<input>", without options; ` +
			`input "name" has no field; input "wait" has no field`},
		{"not a struct", reflect.TypeFor[map[string]any](), `action t: inputs decode into map[string]interface {}, which is not a struct`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ""
			if err := checkInputs(spec, tc.in); err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// An action that puts a secret in an output, in an error and in a log
// line returns and logs it masked: the adapter's one way out redacts.
func TestTheAdapterMasksWhatAnActionReturnsAndLogs(t *testing.T) {
	const secret = "tok-abcdef-123"
	t.Setenv("RUNBOOK_SECRET_TOKEN", secret)
	type leakInput struct {
		Token string `json:"token"`
		Fail  bool   `json:"fail"`
	}
	spec := &plan.ActionSpec{Name: "test.leak", Description: "Leaks its token.", Inputs: []plan.Field{
		{Name: "token", Type: plan.StringType, Required: true},
		{Name: "fail", Type: plan.BoolType},
	}}
	a, err := newAction(spec, func(ctx context.Context, c call, in leakInput) (map[string]any, error) {
		c.log(ctx, "warn", "the token is "+in.Token)
		if in.Fail {
			return nil, errors.New("cannot use " + in.Token)
		}
		return map[string]any{"token": in.Token, "nested": []any{map[string]any{in.Token: in.Token}}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(&logged, nil))))
	env := s.NewTestActivityEnvironment()
	env.RegisterActivityWithOptions((&Env{Secrets: EnvSecrets{}}).handler(a), activity.RegisterOptions{Name: spec.Name})

	val, err := env.ExecuteActivity(spec.Name, plan.ActionInput{StepID: "s", Inputs: map[string]any{"token": secret}})
	if err != nil {
		t.Fatal(err)
	}
	var out plan.ActionOutput
	if err := val.Get(&out); err != nil {
		t.Fatal(err)
	}
	if want := (map[string]any{"token": "***", "nested": []any{map[string]any{"***": "***"}}}); !reflect.DeepEqual(out.Outputs, want) {
		t.Errorf("outputs %v", out.Outputs)
	}
	_, err = env.ExecuteActivity(spec.Name, plan.ActionInput{StepID: "s", Inputs: map[string]any{"token": secret, "fail": true}})
	if err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "cannot use ***") {
		t.Errorf("error %v", err)
	}
	if lines := logged.String(); strings.Contains(lines, secret) || strings.Count(lines, "the token is ***") != 2 {
		t.Errorf("logged %s", lines)
	}
}
