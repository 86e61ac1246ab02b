package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The DR drill end to end, through runbook dev and the command line: a
// nightly backup, then the drill, whose report states the RTO (the
// restore step's wall time) and the RPO (the dump's age, from its
// manifest) beside their targets; a drill past its RPO fails and pages.
func TestDRDrillReport(t *testing.T) {
	if testing.Short() {
		t.Skip("starts runbook dev")
	}
	if err := exec.Command("pg_dump", "--version").Run(); err != nil {
		t.Skip("pg_dump is not installed")
	}
	const admin = "host=127.0.0.1 port=5432 user=postgres sslmode=disable"
	psql := func(db, q string) string {
		t.Helper()
		out, err := exec.Command("psql", "-v", "ON_ERROR_STOP=1", "-d", admin+" dbname="+db, "-Atc", q).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v: %s", q, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("psql", "-d", admin+" dbname=postgres", "-Atc", "select 1").CombinedOutput(); err != nil {
		t.Skipf("Postgres at 127.0.0.1:5432 is unreachable: %s", out)
	}
	db := fmt.Sprintf("rb_drill_%d", os.Getpid())
	psql("postgres", "DROP DATABASE IF EXISTS "+db)
	psql("postgres", "CREATE DATABASE "+db)
	t.Cleanup(func() { exec.Command("psql", "-d", admin+" dbname=postgres", "-c", "DROP DATABASE IF EXISTS "+db).Run() })
	psql(db, "CREATE TABLE orders (id int); INSERT INTO orders SELECT generate_series(1, 300)")

	// The examples, as the operator pins their fixed params for this machine.
	dir, backups, files := t.TempDir(), t.TempDir(), t.TempDir()
	writeFile := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(files, "invoice.pdf"), []byte("%PDF"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"nightly-backup.yaml", "dr-restore-drill.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "examples", name))
		if err != nil {
			t.Fatal(err)
		}
		src := strings.ReplaceAll(string(b), "default: /var/backups/runbook", "default: "+backups)
		writeFile(name, strings.ReplaceAll(src, "default: /srv/uploads", "default: "+files))
	}
	slack := newHook(t)
	dev := startDevProc(t, t.TempDir(), []string{"RUNBOOK_SECRET_PG_DSN=" + admin + " dbname=" + db,
		"RUNBOOK_SECRET_PG_ADMIN_DSN=" + admin, "RUNBOOK_SECRET_SLACK_URL=" + slack.URL}, "--examples", dir)
	op := dev.tokens["RUNBOOK_OPERATOR_TOKEN"]
	runTo := func(want int, args ...string) string {
		t.Helper()
		code, o := cliAt(dev, op, append([]string{"run"}, append(args, "-q")...)...)
		if code != 0 {
			t.Fatalf("run %v: %d %s", args, code, o)
		}
		id := strings.TrimSpace(o)
		if code, o := cliAt(dev, op, "follow", id); code != want {
			t.Fatalf("follow %s: %d\n%s", id, code, o)
		}
		return id
	}
	runTo(0, "nightly-backup")
	drill := runTo(0, "dr-restore-drill", "-p", "scratch_db="+db+"_scratch")

	code, o := cliAt(dev, op, "report", drill)
	if code != 0 {
		t.Fatalf("report: %d %s", code, o)
	}
	var rep struct {
		Status      string         `json:"status"`
		VersionHash string         `json:"versionHash"`
		Outputs     map[string]any `json:"outputs"`
		Steps       []struct {
			ID        string    `json:"id"`
			StartedAt time.Time `json:"startedAt"`
			Seconds   float64   `json:"seconds"`
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(o), &rep); err != nil {
		t.Fatalf("%v: %s", err, o)
	}
	manifests, _ := filepath.Glob(filepath.Join(backups, "db-*.dump.manifest.json"))
	if len(manifests) != 1 {
		t.Fatalf("manifests: %v", manifests)
	}
	var m struct {
		Created time.Time `json:"created"`
	}
	b, _ := os.ReadFile(manifests[0])
	json.Unmarshal(b, &m)
	var restore struct {
		StartedAt time.Time
		Seconds   float64
	}
	for _, s := range rep.Steps {
		if s.ID == "restore" {
			restore.StartedAt, restore.Seconds = s.StartedAt, s.Seconds
		}
	}
	rpo, _ := rep.Outputs["rpo_seconds"].(float64)
	rto, _ := rep.Outputs["rto_seconds"].(float64)
	// The RPO is the dump's age when the restore began: between the
	// manifest's time and the restore step's start (the action starts
	// within the step), give or take the clock's second.
	if age := restore.StartedAt.Sub(m.Created).Seconds(); rpo < age-1 || rpo > age+1 || rpo <= 0 {
		t.Errorf("rpo %v, dump made %s, restore started %s", rpo, m.Created, restore.StartedAt)
	}
	if rto <= 0 || rto > restore.Seconds {
		t.Errorf("rto %v, the restore step took %vs", rto, restore.Seconds)
	}
	if rep.Status != "succeeded" || len(rep.VersionHash) != 64 || rep.Outputs["rto_target_seconds"] != float64(1800) || rep.Outputs["rpo_target_seconds"] != float64(26*3600) ||
		rep.Outputs["backup_created"] != m.Created.UTC().Format(time.RFC3339) || rep.Outputs["tables"] != float64(1) {
		t.Errorf("report: %+v", rep)
	}
	code, doc := cliAt(dev, op, "report", drill, "--markdown")
	for _, re := range []string{
		`(?m)^# Run report: Weekly disaster-recovery drill \(dr-restore-drill\)$`,
		`(?m)^\| rpo\\_seconds \| \d+(\.\d+)? \|$`,
		`(?m)^\| rto\\_target\\_seconds \| 1800 \|$`,
		`(?m)^\| rows \| \{"public.orders":300\} \|$`,
		`(?m)^\| within\\_rpo \|  \| succeeded \| `,
		`(?m)^\| Started by \| dev-operator \|$`,
	} {
		if code != 0 || !regexp.MustCompile(re).MatchString(doc) {
			t.Errorf("the markdown report lacks %s:\n%s", re, doc)
		}
	}

	// Past its recovery point objective: failed at within_rpo, paged.
	late := runTo(1, "dr-restore-drill", "-p", "scratch_db="+db+"_scratch", "-p", "max_backup_age=1ms")
	_, o = cliAt(dev, op, "report", late)
	if !strings.Contains(o, `"failedStep": "within_rpo"`) || !strings.Contains(o, `"status": "failed"`) {
		t.Errorf("report of the late drill:\n%s", o)
	}
	slack.mu.Lock()
	paged := strings.Join(slack.bodies, "\n")
	slack.mu.Unlock()
	if !strings.Contains(paged, "DR drill failed at within_rpo: the newest backup was ") {
		t.Errorf("pages: %s", paged)
	}
}
