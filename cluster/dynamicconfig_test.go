package cluster

import (
	"os"
	"strings"
	"testing"
)

// docs/operations.md quotes the dynamic config compose and the cluster run
// whole, so what it recommends is what they run.
func TestOperationsDocQuotesTheDynamicConfig(t *testing.T) {
	doc, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := "```yaml\n" + string(dynamicConfig) + "```\n"; !strings.Contains(string(doc), want) {
		t.Errorf("docs/operations.md does not quote cluster/dynamicconfig.yaml as it is; put this in it:\n%s", want)
	}
}
