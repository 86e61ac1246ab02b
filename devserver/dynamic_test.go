package devserver

import (
	"os"
	"strings"
	"testing"

	"go.temporal.io/server/common/dynamicconfig"
)

// docs/operations.md lists the embedded server's dynamic config exactly as
// Settings holds it.
func TestOperationsDocListsTheSettings(t *testing.T) {
	doc, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), SettingsMarkdown()) {
		t.Errorf("docs/operations.md's table of the embedded server's dynamic config is stale; put this in it:\n%s", SettingsMarkdown())
	}
}

// Every setting is one the server knows, spelled as it declares it.
func TestSettingsAreTheServers(t *testing.T) {
	known := map[string]string{}
	for _, s := range []interface{ Key() dynamicconfig.Key }{
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead, dynamicconfig.MatchingNumTaskqueueReadPartitions,
		dynamicconfig.MatchingNumTaskqueueWritePartitions, dynamicconfig.TransferProcessorMaxPollRPS,
		dynamicconfig.TimerProcessorMaxPollRPS, dynamicconfig.VisibilityProcessorMaxPollRPS,
		dynamicconfig.OutboundProcessorMaxPollRPS, dynamicconfig.HistoryLongPollExpirationInterval,
	} {
		known[s.Key().String()] = ""
	}
	for _, s := range Settings {
		if _, ok := known[dynamicconfig.MakeKey(s.Key).String()]; !ok {
			t.Errorf("%s: not a setting this test knows", s.Key)
		}
	}
}
