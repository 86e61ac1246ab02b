// Package examples holds runbooks that really run; these tests keep every
// one of them valid, warning-free and previewable.
package examples_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/plan"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/runbooks"
)

func TestEveryExampleIsValid(t *testing.T) {
	srcs, err := runbooks.ReadSources(".")
	if err != nil {
		t.Fatal(err)
	}
	if len(srcs) < 4 {
		t.Fatalf("want at least one example per domain, found %d files", len(srcs))
	}
	domains := map[string]bool{}
	for _, r := range runbooks.BuildSet(srcs, runbooks.Options{Actions: activities.Catalog()}) {
		for _, d := range r.Diagnostics {
			t.Errorf("%s", d) // warnings too: examples are what users copy
		}
		if r.Plan == nil {
			continue
		}
		domains[r.Plan.Labels["domain"]] = true
		if _, err := runbooks.PreviewPlan(r.Plan, previewParams[r.Plan.Name], time.Now(), "test"); err != nil {
			t.Errorf("%s: preview: %v", r.File, err)
		}
	}
	for _, d := range []string{"backup", "disaster-recovery", "incident-response", "change", "maintenance"} {
		if !domains[d] {
			t.Errorf("no example labelled domain: %s", d)
		}
	}
}

// previewParams are the required params each example needs for a preview.
var previewParams = map[string]map[string]any{
	"change-release":        {"service": "api", "version": "v1.2.3"},
	"incident-service-down": {"service": "api", "health_url": "http://127.0.0.1:8081/healthz"},
	"rolling-restart":       {"service": "api", "hosts": []any{"127.0.0.1:8081", "127.0.0.1:8082"}},
	"tls-expiry-check":      {"hosts": []any{"example.com"}},
	"capacity-forecast":     {"prometheus_url": "http://127.0.0.1:9090", "capacity": 1e12},
}

func TestDeployAndRollbackScripts(t *testing.T) {
	state := t.TempDir()
	run := func(args ...string) (string, error) {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "SERVICE_STATE_DIR="+state)
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	read := func() string {
		b, err := os.ReadFile(filepath.Join(state, "api.canary"))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	if out, err := run("./scripts/rollback.sh", "api", "canary"); err == nil {
		t.Fatalf("rollback without a previous version succeeded: %s", out)
	}
	for _, v := range []string{"v1.0.0", "v1.1.0"} {
		if out, err := run("./scripts/deploy.sh", "api", v, "canary"); err != nil {
			t.Fatalf("deploy %s: %v: %s", v, err, out)
		}
	}
	if got := read(); got != "v1.1.0" {
		t.Fatalf("deployed version = %q", got)
	}
	if out, err := run("./scripts/rollback.sh", "api", "canary"); err != nil {
		t.Fatalf("rollback: %v: %s", err, out)
	}
	if got := read(); got != "v1.0.0" {
		t.Errorf("after rollback = %q, want v1.0.0", got)
	}
	if out, err := run("./scripts/restart.sh", "api"); err != nil {
		t.Fatalf("restart: %v: %s", err, out)
	}
	if _, err := os.Stat(filepath.Join(state, "api.restart")); err != nil {
		t.Errorf("restart marker: %v", err)
	}
}

// Every example is run end to end by some test of this package (through
// example(t, FILE)), so adding one without a test fails here.
func TestEveryExampleRunsEndToEnd(t *testing.T) {
	files, _ := filepath.Glob("*.yaml")
	tests, _ := filepath.Glob("*_test.go")
	ran := map[string]bool{}
	re := regexp.MustCompile(`example\(t, "([^"]+\.yaml)"[,)]`)
	for _, f := range tests {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			ran[m[1]] = true
		}
	}
	for _, f := range files {
		if !ran[f] {
			t.Errorf("%s is not run by any test", f)
		}
	}
	if len(files) < 8 {
		t.Errorf("only %d examples", len(files))
	}
}

// fixedParams are the params each example fixes: programs and paths.
var fixedParams = map[string][]string{
	"change-release.yaml":        {"deploy_dir"},
	"incident-service-down.yaml": {"restart_command"},
	"rolling-restart.yaml":       {"restart_command"},
	"nightly-backup.yaml":        {"backup_dir", "files_dir"},
	"dr-restore-drill.yaml":      {"backup_dir"},
}

// An operator chooses values, never code: a run that sets a fixed param
// is refused, whatever the value.
func TestFixedParamsCannotBeSet(t *testing.T) {
	for file, names := range fixedParams {
		p := example(t, file)
		for _, name := range names {
			given := map[string]any{name: "/tmp/evil.sh"}
			for k, v := range previewParams[p.Name] {
				given[k] = v
			}
			_, err := p.BindParams(given)
			var pe *plan.ParamError
			want := fmt.Sprintf("param %q is fixed by the runbook and cannot be set", name)
			if !errors.As(err, &pe) || len(pe.Problems) != 1 || pe.Problems[0] != want {
				t.Errorf("%s: setting %s: %v, want %s", file, name, err, want)
			}
		}
	}
}

// Without fixed, each of these examples would let a run choose a program
// or a path, and lint refuses it.
func TestExamplesWithoutPinsAreRefused(t *testing.T) {
	srcs, err := runbooks.ReadSources(".")
	if err != nil {
		t.Fatal(err)
	}
	for file, names := range fixedParams {
		var src []byte
		for _, s := range srcs {
			if s.File == file {
				src = s.Data
			}
		}
		loose := strings.ReplaceAll(string(src), "      fixed: true\n", "")
		if loose == string(src) {
			t.Fatalf("%s fixes nothing", file)
		}
		_, ds, err := runbooks.Build(file, []byte(loose), runbooks.Options{Actions: activities.Catalog()})
		if err == nil {
			t.Errorf("%s without fixed params compiled", file)
		}
		for _, name := range names {
			found := false
			for _, d := range ds.Errors() {
				found = found || strings.HasPrefix(d.Message, fmt.Sprintf("param %q ", name))
			}
			if !found {
				t.Errorf("%s: no error names param %s: %v", file, name, ds)
			}
		}
	}
}
