package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/runbooks"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestValidateExamples(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	code, out, errOut := runCLI(t, "validate", "../../examples")
	if want := fmt.Sprintf("%d of %d runbooks valid, 0 with errors, 0 warnings\n", len(files), len(files)); code != 0 || !strings.HasSuffix(out, want) {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	src := "apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: bad}\nspec:\n  steps:\n    - {id: a, action: shel}\n    - {id: b, sleep: soon}\n"
	if err := os.WriteFile(bad, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCLI(t, "validate", bad)
	want := bad + `:6:23: spec.steps[0].action: unknown action "shel" (did you mean "shell"?)
` + bad + `:7:22: spec.steps[1].sleep: invalid duration "soon" (want e.g. 90s, 15m, 2h, 7d, 1d12h)
0 of 1 runbooks valid, 1 with errors, 0 warnings
`
	if code != 1 || out != want {
		t.Errorf("exit %d\n%s\nwant\n%s", code, out, want)
	}
	code, out, _ = runCLI(t, "validate", "--json", bad)
	var results []struct {
		Valid       bool                 `json:"valid"`
		Diagnostics runbooks.Diagnostics `json:"diagnostics"`
	}
	if err := json.Unmarshal([]byte(out), &results); err != nil || code != 1 || results[0].Valid || len(results[0].Diagnostics) != 2 {
		t.Fatalf("json: exit %d, %v\n%s", code, err, out)
	}
	if ds := results[0].Diagnostics; ds[0].Code != runbooks.CodeUnknownAction || ds[1].Code != runbooks.CodeInvalidValue {
		t.Errorf("json codes: %s, %s", ds[0].Code, ds[1].Code)
	}
}

func TestValidateFindsSubRunbooks(t *testing.T) {
	dir, lib := t.TempDir(), t.TempDir()
	parent := filepath.Join(dir, "parent.yaml")
	write := func(path, src string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(parent, "apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: parent}\nspec:\n  steps:\n    - id: deploy\n      action: shell\n      with: {command: [deploy]}\n      compensate:\n        steps: [{id: undo, runbook: {name: child}}]\n")
	child := "apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: child}\nspec:\n  steps: [{id: x, sleep: 1s}]\n"
	write(filepath.Join(lib, "child.yaml"), child)
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"validate", parent}, 1, parent + `:10:44: spec.steps[0].compensate.steps[0].runbook.name: unknown runbook "child" (register it first, or validate it together with this file)
0 of 1 runbooks valid, 1 with errors, 0 warnings
`},
		{[]string{"validate", "--lib", lib, parent}, 0, "1 of 1 runbooks valid, 0 with errors, 0 warnings\n"},
		{[]string{"validate", "--lib", filepath.Join(lib, "none"), parent}, 1, ""},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(t, tt.args...)
		if code != tt.code || out != tt.want {
			t.Errorf("%v: exit %d\n%s%s\nwant exit %d\n%s", tt.args, code, out, errOut, tt.code, tt.want)
		}
	}
	// Beside the file, the child is found without --lib and is not reported.
	write(filepath.Join(dir, "child.yaml"), child)
	if code, out, errOut := runCLI(t, "validate", parent); code != 0 || out != "1 of 1 runbooks valid, 0 with errors, 0 warnings\n" {
		t.Errorf("beside: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, "plan", parent); code != 0 || !strings.Contains(out, "RUN   deploy") {
		t.Errorf("plan: exit %d\n%s%s", code, out, errOut)
	}
}

func TestPlanPreview(t *testing.T) {
	code, out, errOut := runCLI(t, "plan", "../../examples/change-release.yaml", "-p", "service=api", "-p", "version=v1.2.3", "-p", "environment=production")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		`version = "v1.2.3" (given)`,
		"RUN   change_board: approval by 2 of group:change-board  [if params.environment == 'production' is true]",
		`command: ["./examples/scripts/deploy.sh","api","v1.2.3","canary"]`,
		"url: (uses secret SLACK_URL; resolved by the worker)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}
	code, _, errOut = runCLI(t, "plan", "../../examples/change-release.yaml", "-p", "service=api")
	if code != 1 || !strings.Contains(errOut, `param "version" is required`) {
		t.Errorf("missing param: exit %d: %s", code, errOut)
	}
}

func TestGraph(t *testing.T) {
	code, out, errOut := runCLI(t, "graph", "../../examples/change-release.yaml")
	if code != 0 || !strings.HasPrefix(out, "flowchart TD\n") || !strings.Contains(out, `change_board -->`) {
		t.Errorf("exit %d: %s%s", code, out, errOut)
	}
}

func TestUnknownCommand(t *testing.T) {
	if code, _, errOut := runCLI(t, "deploy"); code != 2 || !strings.Contains(errOut, `unknown command "deploy"`) {
		t.Errorf("exit %d: %s", code, errOut)
	}
}

// TestGeneratedDocsAreCurrent keeps the files generated from the specs in
// step with them; `make docs` regenerates them.
func TestGeneratedDocsAreCurrent(t *testing.T) {
	for file, args := range map[string][]string{
		"../../docs/actions.md":          {"actions", "--markdown"},
		"../../docs/runbook.schema.json": {"schema"},
	} {
		code, out, errOut := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		have, err := os.ReadFile(file)
		if err != nil || string(have) != out {
			t.Errorf("%s is stale or missing (%v); run make docs", file, err)
		}
	}
}

func TestSchemaCoversActions(t *testing.T) {
	_, out, _ := runCLI(t, "schema")
	var schema map[string]any
	if err := json.Unmarshal([]byte(out), &schema); err != nil {
		t.Fatal(err)
	}
	step := schema["$defs"].(map[string]any)["step"].(map[string]any)
	enum := step["properties"].(map[string]any)["action"].(map[string]any)["enum"].([]any)
	if len(enum) != len(activities.Catalog()) {
		t.Errorf("action enum = %v", enum)
	}
	if step["additionalProperties"] != false {
		t.Error("steps must not allow unknown fields")
	}
}

// TestSchemaAcceptsExamplesAndRejectsMistakes validates the examples
// against the generated JSON Schema, as an editor would.
func TestSchemaAcceptsExamplesAndRejectsMistakes(t *testing.T) {
	_, out, _ := runCLI(t, "schema")
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("runbook.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("runbook.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("../../examples/*.yaml")
	for _, f := range files {
		if err := schema.Validate(yamlAsJSON(t, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	mistakes := map[string]string{
		"unknown step field":  `{"apiVersion":"runbook/v1","kind":"Runbook","metadata":{"name":"x"},"spec":{"steps":[{"id":"a","sleep":"1s","timout":"1m"}]}}`,
		"unknown shell input": `{"apiVersion":"runbook/v1","kind":"Runbook","metadata":{"name":"x"},"spec":{"steps":[{"id":"a","action":"shell","with":{"scrpt":"ls"}}]}}`,
		"wrong input type":    `{"apiVersion":"runbook/v1","kind":"Runbook","metadata":{"name":"x"},"spec":{"steps":[{"id":"a","action":"tcp.check","with":{"host":"h","port":true}}]}}`,
		"step without kind":   `{"apiVersion":"runbook/v1","kind":"Runbook","metadata":{"name":"x"},"spec":{"steps":[{"id":"a"}]}}`,
	}
	for name, src := range mistakes {
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(src))
		if err != nil {
			t.Fatal(err)
		}
		if schema.Validate(v) == nil {
			t.Errorf("%s: the schema accepted %s", name, src)
		}
	}
}

// yamlAsJSON reads a YAML file into the JSON data model.
func yamlAsJSON(t *testing.T, file string) any {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Every command exits 2 on a command line it cannot take, and says why
// with its usage, before it does anything.
func TestUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"validate", "--bogus", "x"},
		{"validate"},
		{"plan", "a.yaml", "b.yaml"},
		{"schema", "extra"},
		{"actions", "--yaml"},
		{"runs", "extra"},
		{"approvals", "--all"},
		{"schedules", "x"},
		{"follow"},
		{"approve", "run-1"},
		{"cancel", "a", "b"},
		{"run"},
		{"apply"},
		{"worker", "extra"},
		{"server", "extra"},
		{"dev", "extra"},
		{"server", "--session-ttl", "0s"},
		{"dev", "--session-ttl", "soon"},
		{"server", "--public-url", "runbooks.example.com"},
		{"worker", "--public-url", "ftp://runbooks.example.com"},
		{"token"},
	} {
		var out, errOut strings.Builder
		if code := run(args, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "usage") && !strings.Contains(errOut.String(), "Usage") {
			t.Errorf("runbook %s: exit %d, stderr %q", strings.Join(args, " "), code, errOut.String())
		}
	}
}
