package devtest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"
)

// HistoryJSON returns a run's whole history as JSON, the form
// client.HistoryFromJSON reads back.
func HistoryJSON(t *testing.T, c client.Client, id string) []byte {
	t.Helper()
	return ExecutionHistoryJSON(t, c, id, "")
}

// ExecutionHistoryJSON is HistoryJSON for one execution of a run that
// continued as new ("" for the latest).
func ExecutionHistoryJSON(t *testing.T, c client.Client, id, execution string) []byte {
	t.Helper()
	var events []*historypb.HistoryEvent
	it := c.GetWorkflowHistory(context.Background(), id, execution, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
	b, err := protojson.Marshal(&historypb.History{Events: events})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// RecordHistory saves a history as FILE.json (with the run's workflow id in
// FILE.id, which child ids derive from) for the replay test in
// workflows/testdata/histories, when RECORD_HISTORIES is set. An existing
// FILE.json is kept and the new one named FILE-2.json.
func RecordHistory(t *testing.T, file string, history []byte, id string) {
	t.Helper()
	if os.Getenv("RECORD_HISTORIES") == "" {
		return
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(file + ".json"); err == nil {
		file += "-2"
	}
	if err := os.WriteFile(file+".json", history, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file+".id", []byte(strings.TrimSpace(id)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}
