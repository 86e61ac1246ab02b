package diff_test

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/diff"
	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/runbooks"
)

func build(t *testing.T, src string) *plan.Plan {
	t.Helper()
	p, diags, err := runbooks.Build("change-release.yaml", []byte(src), runbooks.Options{Actions: activities.Catalog()})
	if err != nil {
		t.Fatalf("%v: %v", err, diags)
	}
	return p
}

func TestPlans(t *testing.T) {
	b, err := os.ReadFile("../examples/change-release.yaml")
	if err != nil {
		t.Fatal(err)
	}
	v1 := string(b)
	// Moved down a line, a timeout changed, a param added and one's
	// default changed, the promote step and the finally step replaced.
	v2 := "# v2\n" + v1
	for old, new := range map[string]string{
		"      timeout: 10m\n":     "      timeout: 15m\n",
		"      default: staging\n": "      default: production\n",
		"  secrets: [SLACK_URL]\n": "    - {name: ticket, type: string, default: none}\n  secrets: [SLACK_URL]\n",
		"    - id: promote\n":      "    - id: promote_stable\n",
		"  timeout: 2h\n":          "  timeout: 3h\n",
	} {
		if !strings.Contains(v2, old) {
			t.Fatalf("the example lacks %q", old)
		}
		v2 = strings.Replace(v2, old, new, 1)
	}
	got, err := diff.Plans(build(t, v1), build(t, v2))
	if err != nil {
		t.Fatal(err)
	}
	want := diff.Changes{
		Steps: diff.Set{Added: []string{"promote_stable"}, Removed: []string{"promote"},
			Changed: []diff.Changed{{Name: "deploy_canary", Fields: []string{"timeout"}}}},
		Params: diff.Set{Added: []string{"ticket"}, Removed: []string{},
			Changed: []diff.Changed{{Name: "environment", Fields: []string{"default"}}}},
		Fields: []string{"timeout"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	same, err := diff.Plans(build(t, v1), build(t, "\n\n"+v1))
	if err != nil || !same.Empty() {
		t.Errorf("moving the source is no change: %+v %v", same, err)
	}
}
