package workflows_test

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/workflows"
)

// TestReplayRecordedHistories replays histories of real runs of the
// examples (recorded by the examples tests with RECORD_HISTORIES=1)
// against the current interpreter. A change that would break runs already
// in flight fails here.
func TestReplayRecordedHistories(t *testing.T) { replayAll(t) }

// TestReplayIgnoresTheLiveCatalog flips Local and Heartbeats on every action
// of the catalog, as a release might, and replays the recorded histories:
// their runs took local activities (log) and heartbeats from the plan, so
// they must replay the same.
func TestReplayIgnoresTheLiveCatalog(t *testing.T) {
	for _, spec := range activities.Catalog().Actions() {
		local, beats := spec.Local, spec.Heartbeats
		spec.Local, spec.Heartbeats = !local, !beats
		t.Cleanup(func() { spec.Local, spec.Heartbeats = local, beats })
	}
	replayAll(t)
}

func replayAll(t *testing.T) {
	files, err := filepath.Glob("testdata/histories/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no recorded histories in testdata/histories")
	}
	logger := log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(workflows.RunbookWorkflow, workflow.RegisterOptions{Name: workflows.WorkflowName})
			fh, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			h, err := client.HistoryFromJSON(fh, client.HistoryJSONOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var opts worker.ReplayWorkflowHistoryOptions
			if id, err := os.ReadFile(strings.TrimSuffix(f, ".json") + ".id"); err == nil {
				opts.OriginalExecution = workflow.Execution{ID: strings.TrimSpace(string(id))}
			}
			if err := r.ReplayWorkflowHistoryWithOptions(logger, h, opts); err != nil {
				t.Fatal(err)
			}
		})
	}
}
