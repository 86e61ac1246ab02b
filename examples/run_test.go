package examples_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/plan"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/devserver/devtest"
	"github.com/opsrunbook/runbook/runbooks"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/worker"
	"github.com/opsrunbook/runbook/workflows"
)

// stack is the shared embedded Temporal server and worker.
type stack struct {
	client client.Client
}

func TestMain(m *testing.M) { devtest.Main(m) }

func startStack(t *testing.T) *stack { return &stack{client: devtest.Client(t)} }

// runPlan starts a run of p and waits for it; it returns the result, or
// the failure's type and the final status.
func (s *stack) runPlan(t *testing.T, p *plan.Plan, params map[string]any) (*workflows.RunResult, string, *workflows.Status) {
	t.Helper()
	bound, err := p.BindParams(params)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run, err := s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: p.Name + "-" + time.Now().Format("150405.000000"), TaskQueue: worker.TaskQueue},
		workflows.WorkflowName, workflows.RunInput{Plan: p, Params: bound, Trigger: "api", TriggeredBy: "test", Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	var res workflows.RunResult
	err = run.Get(ctx, &res)
	status := s.status(t, run.GetID())
	s.checkHistory(t, p.Name, run.GetID())
	if err != nil {
		var app *temporal.ApplicationError
		if errors.As(err, &app) {
			return nil, app.Type(), status
		}
		t.Fatalf("run %s: %v", run.GetID(), err)
	}
	return &res, "", status
}

func (s *stack) status(t *testing.T, id string) *workflows.Status {
	t.Helper()
	v, err := s.client.QueryWorkflow(context.Background(), id, "", workflows.QueryStatus)
	if err != nil {
		t.Fatalf("query %s: %v", id, err)
	}
	var st workflows.Status
	if err := v.Get(&st); err != nil {
		t.Fatal(err)
	}
	return &st
}

func TestSmokeOnEmbeddedTemporal(t *testing.T) {
	s := startStack(t)
	t.Setenv("RUNBOOK_SECRET_TOKEN", fmt.Sprintf("tok-%d-secret", time.Now().UnixNano()))
	src := `apiVersion: runbook/v1
kind: Runbook
metadata: {name: smoke}
spec:
  params: [{name: who, type: string, default: world}]
  secrets: [TOKEN]
  steps:
    - {id: hello, action: shell, with: {script: 'echo "hello $WHO, token $TOKEN"', env: {WHO: "${{ params.who }}", TOKEN: "${{ secrets.TOKEN }}"}}}
    - {id: note, action: log, with: {message: "${{ steps.hello.outputs.stdout.trim() }}"}}
  outputs:
    said: steps.note.outputs.message
`
	p, _, err := runbooks.Build("smoke.yaml", []byte(src), runbooks.Options{Actions: activities.Catalog()})
	if err != nil {
		t.Fatal(err)
	}
	res, errType, st := s.runPlan(t, p, map[string]any{"who": "runbook"})
	if errType != "" || res.Outputs["said"] != "hello runbook, token ***" {
		t.Fatalf("result %+v, %s, %+v", res, errType, st)
	}
}

// checkHistory reads a finished run's history: no secret value may appear
// in it. With RECORD_HISTORIES=1 it is saved for the replay test in
// workflows/testdata/histories, so that a change to the interpreter that
// would break running workflows fails CI.
func (s *stack) checkHistory(t *testing.T, name, id string) {
	t.Helper()
	b := devtest.HistoryJSON(t, s.client, id)
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "RUNBOOK_SECRET_") && len(v) >= 6 && strings.Contains(string(b), v) {
			t.Errorf("the value of %s appears in the history of %s", k, id)
		}
	}
	devtest.RecordHistory(t, filepath.Join("..", "workflows", "testdata", "histories", strings.ReplaceAll(t.Name(), "/", "_")+"-"+name), b, id)
}

// TestStoreLinksBesideTheServer opens the records' SQLite store in a binary
// that also links the embedded Temporal server: both must share the one
// "sqlite" database/sql driver (modernc), or the process panics at start.
func TestStoreLinksBesideTheServer(t *testing.T) {
	s, err := store.Open(filepath.Join(t.TempDir(), "runbook.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}
