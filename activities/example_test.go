package activities

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/opsrunbook/runbook/plan"
)

// An action is a spec, the struct its inputs decode into (one field per
// input, tagged with its name) and a run function. In its own file it is
// registered with `var _ = register(GreetSpec, runGreet)`; here newAction
// builds it without adding it to the catalog.
func Example_addingAnAction() {
	greetSpec := &plan.ActionSpec{
		Name:        "greet",
		Description: "Greet someone.",
		Errors:      errorTypes(),
		Inputs: []plan.Field{
			{Name: "name", Type: plan.StringType, Required: true, Description: "Who."},
			{Name: "times", Type: plan.IntType, Default: 1, Description: "How often."},
		},
		Outputs: []plan.Field{{Name: "text", Type: plan.StringType, Description: "The greeting."}},
	}
	type greetInput struct {
		Name  string `json:"name"`
		Times int    `json:"times"`
	}
	runGreet := func(ctx context.Context, c call, in greetInput) (map[string]any, error) {
		if in.Times < 1 {
			return nil, badInput("greet: times must be at least 1, not %d", in.Times)
		}
		return map[string]any{"text": strings.TrimSpace(strings.Repeat("hello "+in.Name+"! ", in.Times))}, nil
	}
	a, err := newAction(greetSpec, runGreet)
	if err != nil {
		fmt.Println(err)
		return
	}
	// The handler checks the inputs, applies defaults, and masks every
	// secret the worker knows in what the action returns.
	os.Setenv("RUNBOOK_SECRET_EXAMPLE", "s3cr3t-name")
	defer os.Unsetenv("RUNBOOK_SECRET_EXAMPLE")
	greet := (&Env{Secrets: EnvSecrets{}}).handler(a)
	out, _ := greet(context.Background(), plan.ActionInput{Inputs: map[string]any{"name": "s3cr3t-name", "times": 2}})
	fmt.Println(out.Outputs["text"])
	_, err = greet(context.Background(), plan.ActionInput{Inputs: map[string]any{"name": "ops", "times": 0}})
	fmt.Println(err)
	_, err = greet(context.Background(), plan.ActionInput{Inputs: map[string]any{"nmae": "ops"}})
	fmt.Println(err)

	// A tag that names no input is refused before anything runs.
	_, err = newAction(greetSpec, func(ctx context.Context, c call, in struct {
		Name  string `json:"nmae"`
		Times int    `json:"times"`
	}) (map[string]any, error) {
		return nil, nil
	})
	fmt.Println(err)
	// Output:
	// hello ***! hello ***!
	// greet: times must be at least 1, not 0 (type: BadInput, retryable: false)
	// action greet: input "name" is required; unknown input "nmae" (type: BadInput, retryable: false)
	// action greet: field Name: no input "nmae"; input "name" has no field
}
