package runbooks_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/plan"
)

func TestEvaluatorRendersValues(t *testing.T) {
	p := mustBuild(t, releaseSrc)
	ev, err := plan.NewEvaluator(p)
	if err != nil {
		t.Fatal(err)
	}
	params, err := p.BindParams(map[string]any{"service": "api"})
	if err != nil {
		t.Fatal(err)
	}
	vars := plan.Vars{"params": p.ParamVars(params)}
	got, err := ev.Render(p.Step("deploy").With["command"], vars)
	if err != nil {
		t.Fatal(err)
	}
	if want := []any{"deploy", "api", "--replicas=2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("command = %#v", got)
	}
	key, err := ev.Eval(p.Concurrency.Key, vars)
	if err != nil || key != "api" {
		t.Errorf("key = %v, %v", key, err)
	}
	// The loop variable is declared for the body's expressions.
	vars["host"] = "h1"
	port, err := ev.Render(p.Step("ping").With["host"], vars)
	if err != nil || port != "h1" {
		t.Errorf("host = %v, %v", port, err)
	}
	// Step outputs are read from the steps variable.
	vars["steps"] = map[string]any{"deploy": map[string]any{"status": "succeeded", "outputs": map[string]any{"exitCode": int64(0), "stdout": "v1"}}}
	undo, err := ev.Render(p.Step("deploy").Compensate.With["command"], vars)
	if err != nil || !reflect.DeepEqual(undo, []any{"rollback", "v1"}) {
		t.Errorf("undo = %v, %v", undo, err)
	}
	out, err := ev.Eval(p.Outputs[0].Expr, vars)
	if err != nil || out != int64(0) {
		t.Errorf("output = %#v, %v", out, err)
	}
}

func TestEvaluatorErrors(t *testing.T) {
	p := mustBuild(t, header+"    - {id: a, sleep: 1s, if: \"params.x > 1\"}\n"[0:0]+
		"    - {id: a, action: log, with: {message: \"${{ string(1 / 0) }}\"}}\n")
	ev, err := plan.NewEvaluator(p)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ev.Render(p.Step("a").With["message"], plan.Vars{})
	var ee *plan.EvalError
	if !errors.As(err, &ee) || !strings.Contains(err.Error(), "division by zero") || ee.Expr.Pos.Line != 6 {
		t.Errorf("err = %v", err)
	}
}

func TestEvaluatorCostLimit(t *testing.T) {
	src := "apiVersion: runbook/v1\nkind: Runbook\nmetadata: {name: t}\nspec:\n  params: [{name: xs, type: list, items: int, required: true}]\n  steps:\n" +
		"    - {id: a, action: log, with: {message: \"${{ string(params.xs.map(a, params.xs.filter(b, b < a).size()).size()) }}\"}}\n"
	p := mustBuild(t, src)
	ev, err := plan.NewEvaluator(p)
	if err != nil {
		t.Fatal(err)
	}
	xs := make([]any, 1100) // 1100 x 1100 comparisons: over the limit
	for i := range xs {
		xs[i] = int64(i)
	}
	_, err = ev.Render(p.Step("a").With["message"], plan.Vars{"params": map[string]any{"xs": xs}})
	if err == nil || !strings.Contains(err.Error(), "cost limit exceeded") {
		t.Errorf("err = %v, want the cost limit to stop it", err)
	}
	// Three nested loops are refused before any run.
	got := diags(t, header+"    - {id: a, action: log, with: {message: \"${{ string(lists.range(9).map(a, lists.range(a).map(b, lists.range(b).map(c, c))).size()) }}\"}}\n")
	if len(got) != 1 || !strings.Contains(got[0], "expression is too expensive") {
		t.Errorf("diags = %v", got)
	}
	// Values of type any (JSON from an action) are bounded like strings
	// and lists, so a loop over them has a finite worst case.
	got = diags(t, header+"    - {id: q, action: postgres.query, with: {dsn: x, query: 'SELECT 1'}}\n"+
		"    - {id: a, action: log, with: {message: \"${{ steps.q.outputs.rows.map(r, r.name + '=' + string(r.n)).join(', ') }}\"}}\n")
	if len(got) != 0 {
		t.Errorf("diags = %v", got)
	}
}

func TestCELValueConversions(t *testing.T) {
	d := plan.CELValue("1d2h", plan.DurationType)
	if d != 26*time.Hour {
		t.Errorf("duration = %v", d)
	}
	if v := plan.CELValue(float64(3), plan.IntType); v != int64(3) {
		t.Errorf("int = %#v", v)
	}
	obj := plan.ObjectOf(plan.Field{Name: "n", Type: plan.IntType})
	if v := plan.CELValue(map[string]any{"n": float64(2)}, obj); !reflect.DeepEqual(v, map[string]any{"n": int64(2)}) {
		t.Errorf("object = %#v", v)
	}
}

// TestMapsIterateInKeyOrder guards replay: a macro over a map must give the
// same list every time, whatever Go's map order.
func TestMapsIterateInKeyOrder(t *testing.T) {
	p := mustBuild(t, header+"    - {id: a, sleep: 1s}\n")
	ev, err := plan.NewEvaluator(p)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	for _, k := range []string{"q", "b", "z", "a", "m", "c", "y", "d"} {
		m[k] = int64(len(k))
	}
	x := &plan.Expr{Src: "params.m.map(k, k).join(',') + '|' + params.m.filter(k, params.m[k] == 1).join('')"}
	for range 20 {
		got, err := ev.Eval(x, plan.Vars{"params": map[string]any{"m": m}})
		if err != nil || got != "a,b,c,d,m,q,y,z|abcdmqyz" {
			t.Fatalf("got %v, %v", got, err)
		}
	}
}

func TestJSONFunction(t *testing.T) {
	p := mustBuild(t, header+"    - {id: a, action: log, with: {message: \"${{ json({'b': [1, 'x', null, 2.5], 'a': duration('90s'), 'c': {'d': true}}) }}\"}}\n")
	ev, err := plan.NewEvaluator(p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ev.Render(p.Step("a").With["message"], plan.Vars{})
	if want := `{"a":"1m30s","b":[1,"x",null,2.5],"c":{"d":true}}`; err != nil || got != want {
		t.Errorf("json() = %v, %v; want %s", got, err, want)
	}
}
