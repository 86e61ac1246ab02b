package examples_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/plan"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/runbooks"
	"github.com/opsrunbook/runbook/workflows"
	"gopkg.in/yaml.v3"
)

// example compiles one file of this directory, with the others available
// as sub-runbooks. A pin sets the default of a fixed param in a copy of
// the file, as the runbook's author would for this machine: runs still
// cannot set it.
func example(t *testing.T, file string, pins ...pin) *plan.Plan {
	t.Helper()
	srcs, err := runbooks.ReadSources(".")
	if err != nil {
		t.Fatal(err)
	}
	for i := range srcs {
		for _, p := range pins {
			if srcs[i].File == file {
				srcs[i].Data = p.apply(t, srcs[i].Data)
			}
		}
	}
	for _, r := range runbooks.BuildSet(srcs, runbooks.Options{Actions: activities.Catalog()}) {
		if r.File == file {
			if r.Plan == nil {
				t.Fatal(r.Diagnostics)
			}
			return r.Plan
		}
	}
	t.Fatalf("no example %s", file)
	return nil
}

// pin is the author's value for a fixed param.
type pin struct {
	param string
	value any
}

// apply returns src with the default of the fixed param p.param set to
// p.value; it fails the test when the param is not fixed.
func (p pin) apply(t *testing.T, src []byte) []byte {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		t.Fatal(err)
	}
	params := lookup(lookup(doc.Content[0], "spec"), "params")
	for _, param := range params.Content {
		if n := lookup(param, "name"); n == nil || n.Value != p.param {
			continue
		}
		if f := lookup(param, "fixed"); f == nil || f.Value != "true" {
			t.Fatalf("param %s is not fixed: pin only what the author fixes", p.param)
		}
		if err := lookup(param, "default").Encode(p.value); err != nil {
			t.Fatal(err)
		}
		out, err := yaml.Marshal(&doc)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	t.Fatalf("no param %s", p.param)
	return nil
}

// lookup returns the value of key in a mapping node, or nil.
func lookup(m *yaml.Node, key string) *yaml.Node {
	if m == nil {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// scripts is the absolute path of the example scripts.
func scripts(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("scripts")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func stepStatus(st *workflows.Status, id string) string {
	for _, s := range st.Steps {
		if s.ID == id {
			return s.Status
		}
	}
	return "absent"
}

// stepState is a step's entry in a run's timeline.
func stepState(st *workflows.Status, id string) *workflows.StepState {
	for i := range st.Steps {
		if st.Steps[i].ID == id {
			return &st.Steps[i]
		}
	}
	return &workflows.StepState{}
}

// readManifestFile reads the manifest beside a backup.
func readManifestFile(archive string) (*activities.Manifest, error) {
	b, err := os.ReadFile(activities.ManifestPath(archive))
	if err != nil {
		return nil, err
	}
	var m activities.Manifest
	return &m, json.Unmarshal(b, &m)
}

// stateDir points the example scripts (run by the worker) at a fresh
// directory, and gives the notification secret a webhook.
func stateDir(t *testing.T) (string, *hook) {
	dir := t.TempDir()
	t.Setenv("SERVICE_STATE_DIR", dir)
	t.Setenv("RUNBOOK_PASS_ENV", "SERVICE_STATE_DIR") // steps inherit only what the operator lists
	return dir, slackHook(t)
}

// slackHook gives the notification secret SLACK_URL a recording webhook.
func slackHook(t *testing.T) *hook {
	h := startHook(t)
	t.Setenv("RUNBOOK_SECRET_SLACK_URL", h.srv.URL)
	return h
}

func TestChangeReleaseEndToEnd(t *testing.T) {
	s := startStack(t)
	dir, h := stateDir(t)
	svc := startService(t, &service{name: "api", dir: dir, badVersion: "v9.9.9"})
	deploy := filepath.Join(scripts(t), "deploy.sh")
	if out, err := exec.Command(deploy, "api", "v1.2.2", "canary").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	p := example(t, "change-release.yaml", pin{"deploy_dir", scripts(t)})
	params := map[string]any{"service": "api", "version": "v1.2.3", "health_url": svc.url(), "canary_wait": "20s"}

	res, errType, st := s.runPlan(t, p, params)
	if errType != "" {
		t.Fatalf("release failed: %s: %s", errType, st.Error)
	}
	if svc.read(".canary") != "v1.2.3" || svc.read(".stable") != "v1.2.3" || res.Outputs["promoted_by"] != "test" {
		t.Errorf("canary %s, stable %s, outputs %v", svc.read(".canary"), svc.read(".stable"), res.Outputs)
	}

	// A canary that never turns healthy is rolled back by the multi-step
	// compensation, the failure is announced, and finally still runs.
	params["version"], params["canary_wait"] = "v9.9.9", "6s"
	_, errType, st = s.runPlan(t, p, params)
	if errType != workflows.ErrRepeatTimeout || st.FailedStep != "canary_health" {
		t.Fatalf("bad canary: %s at %s", errType, st.FailedStep)
	}
	if got := svc.read(".canary"); got != "v1.2.3" {
		t.Errorf("after rollback the canary runs %s, want v1.2.3", got)
	}
	if stepStatus(st, "deploy_canary") != workflows.StatusCompensated || stepStatus(st, "rolled_back_healthy") != workflows.StatusSucceeded || stepStatus(st, "record") != workflows.StatusSucceeded {
		t.Errorf("timeline: %+v", st.Steps)
	}
	if got := h.received(); len(got) != 1 || !strings.Contains(got[0], "failed at canary_health") {
		t.Errorf("notifications = %v", got)
	}
}

func TestIncidentRemediationEndToEnd(t *testing.T) {
	s := startStack(t)
	dir, _ := stateDir(t)
	svc := startService(t, &service{name: "api", dir: dir, downUntilRestart: true})
	p := example(t, "incident-service-down.yaml", pin{"restart_command", filepath.Join(scripts(t), "restart.sh")})
	res, errType, st := s.runPlan(t, p, map[string]any{"service": "api", "health_url": svc.url(), "recover_wait": "20s"})
	if errType != "" {
		t.Fatalf("remediation failed: %s: %s", errType, st.Error)
	}
	if res.Outputs["was_down"] != true || !svc.exists(".restart") || stepStatus(st, "escalate") != workflows.StatusSkipped {
		t.Errorf("outputs %v, restarted %v, escalate %s", res.Outputs, svc.exists(".restart"), stepStatus(st, "escalate"))
	}
	// A healthy service is left alone.
	res, errType, st = s.runPlan(t, p, map[string]any{"service": "api", "health_url": svc.url()})
	if errType != "" || res.Outputs["was_down"] != false || stepStatus(st, "remediate") != workflows.StatusSkipped {
		t.Errorf("healthy: %v, %s, remediate %s", res, errType, stepStatus(st, "remediate"))
	}
}

func TestRollingRestartEndToEnd(t *testing.T) {
	s := startStack(t)
	dir, _ := stateDir(t)
	var hosts []any
	for i, broken := range []bool{false, true, false} {
		svc := startService(t, &service{name: fmt.Sprintf("host%d", i), dir: dir, broken: broken})
		hosts = append(hosts, strings.TrimPrefix(svc.srv.URL, "http://"))
	}
	p := example(t, "rolling-restart.yaml", pin{"restart_command", filepath.Join(scripts(t), "restart.sh")})
	params := map[string]any{"service": "api", "hosts": hosts, "health_wait": "3s"}
	res, errType, st := s.runPlan(t, p, params)
	if errType != "" {
		t.Fatalf("roll failed: %s: %s", errType, st.Error)
	}
	if res.Outputs["failed"] != float64(1) {
		t.Errorf("outputs = %v", res.Outputs)
	}
	params["max_failed"] = 0
	if _, errType, _ = s.runPlan(t, p, params); errType != workflows.ErrForEachBudget {
		t.Errorf("with no failure budget: %q", errType)
	}
}

// pgAdmin is a conninfo for the local Postgres without a database name.
const pgAdmin = "host=127.0.0.1 port=5432 user=postgres sslmode=disable"

func TestBackupAndRestoreDrillEndToEnd(t *testing.T) {
	s := startStack(t)
	db := pgTestDatabase(t, "e2e")
	psql(t, db, "CREATE TABLE orders (id serial primary key, total int)", "INSERT INTO orders (total) SELECT g FROM generate_series(1, 500) g",
		"CREATE TABLE customers (id int)", "INSERT INTO customers SELECT generate_series(1, 42)")

	backups, files := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(files, "invoice.pdf"), []byte("%PDF-1.4 test"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("RUNBOOK_SECRET_PG_DSN", pgAdmin+" dbname="+db)
	t.Setenv("RUNBOOK_SECRET_PG_ADMIN_DSN", pgAdmin)
	_, h := stateDir(t)

	backup := example(t, "nightly-backup.yaml", pin{"backup_dir", backups}, pin{"files_dir", files})
	res, errType, st := s.runPlan(t, backup, map[string]any{"keep": 2})
	if errType != "" {
		t.Fatalf("backup failed: %s: %s", errType, st.Error)
	}
	dump := res.Outputs["database"].(string)
	for _, p := range []string{dump, res.Outputs["files"].(string)} {
		if _, err := os.Stat(activities.ManifestPath(p)); err != nil {
			t.Errorf("backup without a manifest: %v", err)
		}
	}
	scratch := db + "_drill"
	drill := example(t, "dr-restore-drill.yaml", pin{"backup_dir", backups})
	res, errType, st = s.runPlan(t, drill, map[string]any{"scratch_db": scratch})
	if errType != "" {
		t.Fatalf("drill failed: %s: %s", errType, st.Error)
	}
	want := map[string]any{"public.orders": float64(500), "public.customers": float64(42)}
	if _, ok := res.Outputs["restore_seconds"].(float64); !ok || !reflect.DeepEqual(res.Outputs["rows"], want) || stepStatus(st, "drop_scratch") != workflows.StatusSucceeded {
		t.Errorf("outputs %v, drop_scratch %s", res.Outputs, stepStatus(st, "drop_scratch"))
	}
	if n := psqlValue(t, "postgres", "SELECT count(*) FROM pg_database WHERE datname = '"+scratch+"'"); n != "0" {
		t.Errorf("scratch database left behind")
	}
	// The evidence: RTO from the restore step's timing, RPO from the
	// dump's manifest, each beside its target.
	m, err := readManifestFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	restore := stepState(st, "restore")
	rpo, _ := res.Outputs["rpo_seconds"].(float64)
	if maxAge := restore.StartedAt.Sub(m.Created).Seconds() + 1; rpo <= 0 || rpo > maxAge ||
		res.Outputs["backup_created"] != m.Created.UTC().Format(time.RFC3339) || res.Outputs["backup"] != dump ||
		res.Outputs["rpo_target_seconds"] != float64(26*3600) || res.Outputs["rto_target_seconds"] != float64(30*60) {
		t.Errorf("evidence: %v (manifest created %s, restore started %s)", res.Outputs, m.Created, restore.StartedAt)
	}
	if rto, _ := res.Outputs["rto_seconds"].(float64); rto <= 0 || rto > restore.EndedAt.Sub(*restore.StartedAt).Seconds() {
		t.Errorf("rto %v for a step of %s", res.Outputs["rto_seconds"], restore.EndedAt.Sub(*restore.StartedAt))
	}
	// A backup older than the recovery point objective fails the drill
	// and pages.
	_, errType, st = s.runPlan(t, drill, map[string]any{"scratch_db": scratch, "max_backup_age": "1ms"})
	if errType != workflows.ErrAssertion || st.FailedStep != "within_rpo" {
		t.Errorf("drill past its RPO: %s at %s: %s", errType, st.FailedStep, st.Error)
	}
	if got := h.received(); len(got) != 1 || !strings.Contains(got[0], "DR drill failed at within_rpo: the newest backup was ") ||
		!strings.Contains(got[0], "s old, over the 1ms recovery point objective") {
		t.Errorf("pages: %q", got)
	}
	h.reset()

	// A flipped byte: the restore refuses the dump, no scratch database
	// is made, and the drill pages.
	b, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(dump, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, errType, st = s.runPlan(t, drill, map[string]any{"scratch_db": scratch})
	if errType != activities.ErrBackupInvalid || stepStatus(st, "drop_scratch") != workflows.StatusSkipped {
		t.Errorf("corrupt dump: %s: %s; drop_scratch %s", errType, st.Error, stepStatus(st, "drop_scratch"))
	}
	if n := psqlValue(t, "postgres", "SELECT count(*) FROM pg_database WHERE datname = '"+scratch+"'"); n != "0" {
		t.Errorf("scratch database made for a corrupt dump")
	}
	if got := h.received(); len(got) != 1 || !strings.Contains(got[0], "DR drill failed at restore: restore.postgres: the backup does not verify: checksum mismatch") {
		t.Errorf("pages: %q", got)
	}

	// A nightly backup that cannot archive its files pages too.
	gone := example(t, "nightly-backup.yaml", pin{"backup_dir", backups}, pin{"files_dir", filepath.Join(files, "gone")})
	_, errType, st = s.runPlan(t, gone, nil)
	if errType != plan.ErrBadInput {
		t.Errorf("backup of a missing directory: %s: %s", errType, st.Error)
	}
	if got := h.received(); len(got) != 2 || !strings.Contains(got[1], "nightly backup failed at archive_files: backup.files: source "+files+"/gone is not a directory") {
		t.Errorf("pages: %q", got)
	}
}

// pgTestDatabase makes an empty database for one test on the local
// Postgres, and drops it afterwards; it skips without Postgres.
func pgTestDatabase(t *testing.T, name string) string {
	t.Helper()
	if err := exec.Command("pg_dump", "--version").Run(); err != nil {
		t.Skip("pg_dump is not installed")
	}
	if out, err := exec.Command("psql", "-d", pgAdmin+" dbname=postgres", "-Atc", "select 1").CombinedOutput(); err != nil {
		t.Skipf("Postgres at 127.0.0.1:5432 is unreachable: %s", out)
	}
	db := fmt.Sprintf("rb_%s_%d", name, os.Getpid())
	psql(t, "postgres", "DROP DATABASE IF EXISTS "+db, "CREATE DATABASE "+db)
	t.Cleanup(func() { psql(t, "postgres", "DROP DATABASE IF EXISTS "+db) })
	return db
}

func psql(t *testing.T, db string, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if out, err := exec.Command("psql", "-v", "ON_ERROR_STOP=1", "-d", pgAdmin+" dbname="+db, "-c", q).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", q, err, out)
		}
	}
}

func psqlValue(t *testing.T, db, q string) string {
	t.Helper()
	out, err := exec.Command("psql", "-d", pgAdmin+" dbname="+db, "-Atc", q).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", q, err, out)
	}
	return strings.TrimSpace(string(out))
}
