package main

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/opsrunbook/runbook/cluster"
)

// knownEnv lists the RUNBOOK_* variables the binary reads.
func knownEnv(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob("*.go")
	var out []string
	re := regexp.MustCompile(`"(RUNBOOK_[A-Z_]+)"`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			out = append(out, m[1])
		}
	}
	return out
}

// docker-compose.yaml has the services the deployment needs, and every
// variable it gives runbook is one the binary reads (a typo would be
// silently ignored).
func TestComposeFile(t *testing.T) {
	b, err := os.ReadFile("../../docker-compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
			Volumes     []string          `yaml:"volumes"`
			Healthcheck *struct {
				Test []string `yaml:"test"`
			} `yaml:"healthcheck"`
			Deploy struct {
				Replicas int `yaml:"replicas"`
			} `yaml:"deploy"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatal(err)
	}
	// The Compose Specification's schema (compose-spec, MIT; a copy in
	// testdata): what `docker compose config` checks first, here where
	// there is no docker.
	schemaDoc, err := os.Open("testdata/compose-spec.json")
	if err != nil {
		t.Fatal(err)
	}
	defer schemaDoc.Close()
	doc, err := jsonschema.UnmarshalJSON(schemaDoc)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("compose-spec.json", doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("compose-spec.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(yamlAsJSON(t, "../../docker-compose.yaml")); err != nil {
		t.Errorf("docker-compose.yaml: %v", err)
	}
	known := knownEnv(t)
	for _, name := range []string{"postgres", "temporal-schema", "temporal", "temporal-admin-tools", "temporal-ui", "api", "worker"} {
		s, ok := compose.Services[name]
		if !ok {
			t.Errorf("no %s service", name)
			continue
		}
		for k := range s.Environment {
			if strings.HasPrefix(k, "RUNBOOK_") && !strings.HasPrefix(k, "RUNBOOK_SECRET_") && !strings.HasPrefix(k, "RUNBOOK_WEBHOOK_SECRET_") && !slices.Contains(known, k) {
				t.Errorf("%s: runbook does not read %s", name, k)
			}
		}
		// Temporal's health check runs in temporal-admin-tools: the server
		// image has no CLI (TestComposeTemporalIsTheClusterTests).
		if name != "worker" && name != "temporal-ui" && name != "temporal" && name != "temporal-schema" && s.Healthcheck == nil {
			t.Errorf("%s has no health check", name)
		}
	}
	if api := compose.Services["api"]; !slices.Equal(api.Command, []string{"server"}) || api.Environment["RUNBOOK_DB"] == "" {
		t.Errorf("api: %+v", api)
	}
	if w := compose.Services["worker"]; !slices.Equal(w.Command, []string{"worker"}) || w.Deploy.Replicas != 2 {
		t.Errorf("worker: %+v", w)
	}
	// The API's webhook keys and the workers' secrets are separate
	// sources: a step can never read a webhook key, nor the API a
	// runbook's secret.
	api, w := compose.Services["api"], compose.Services["worker"]
	hookDir, secretsDir := api.Environment["RUNBOOK_WEBHOOK_SECRETS_DIR"], w.Environment["RUNBOOK_SECRETS_DIR"]
	if hookDir == "" || secretsDir == "" || api.Environment["RUNBOOK_SECRETS_DIR"] != "" || w.Environment["RUNBOOK_WEBHOOK_SECRETS_DIR"] != "" {
		t.Errorf("api environment %v, worker environment %v", api.Environment, w.Environment)
	}
	mounts := func(vols []string) (hostDirs, targets []string) {
		for _, v := range vols {
			parts := strings.Split(v, ":")
			hostDirs, targets = append(hostDirs, parts[0]), append(targets, parts[1])
		}
		return
	}
	apiHosts, apiTargets := mounts(api.Volumes)
	wHosts, wTargets := mounts(w.Volumes)
	if !slices.Contains(apiTargets, hookDir) || slices.Contains(apiTargets, secretsDir) || !slices.Contains(wTargets, secretsDir) || slices.Contains(wTargets, hookDir) {
		t.Errorf("api mounts %v, worker mounts %v", api.Volumes, w.Volumes)
	}
	// The codec keys are the one source both read: each must decrypt
	// what the other encrypts.
	for _, h := range apiHosts {
		if slices.Contains(wHosts, h) && h != "./codec-keys" {
			t.Errorf("api and worker both mount %s", h)
		}
	}
	keys := api.Environment["RUNBOOK_CODEC_KEYS"]
	if !slices.Contains(apiHosts, "./codec-keys") || !slices.Contains(wHosts, "./codec-keys") || keys == "" || keys != w.Environment["RUNBOOK_CODEC_KEYS"] {
		t.Errorf("codec keys: api %q mounts %v, worker %q mounts %v", keys, api.Volumes, w.Environment["RUNBOOK_CODEC_KEYS"], w.Volumes)
	}
}

// The Dockerfile builds a static binary in one stage and runs it as a
// non-root user in another.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	if n := strings.Count(df, "\nFROM "); n < 2 {
		t.Errorf("%d stages", n)
	}
	if !strings.Contains(df, "CGO_ENABLED=0 go build") || !strings.Contains(df, "./cmd/runbook") {
		t.Error("the binary is not built static")
	}
	user := regexp.MustCompile(`(?m)^USER (\S+)`).FindAllStringSubmatch(df, -1)
	if len(user) == 0 || strings.HasPrefix(user[len(user)-1][1], "0") || strings.HasPrefix(user[len(user)-1][1], "root") {
		t.Errorf("runs as %v", user)
	}
	known := knownEnv(t)
	for _, m := range regexp.MustCompile(`(?m)^ENV (RUNBOOK_[A-Z_]+)=`).FindAllStringSubmatch(df, -1) {
		if !slices.Contains(known, m[1]) {
			t.Errorf("runbook does not read %s", m[1])
		}
	}
}

// The compose file's Temporal is the one the cluster test runs
// (cluster_test.go): the release go.mod pins, the same schema steps, the
// same server configuration keys and values, and the same health check.
func TestComposeTemporalIsTheClusterTests(t *testing.T) {
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^\s*go\.temporal\.io/server v` + regexp.QuoteMeta(cluster.TemporalVersion) + `$`).Match(mod) {
		t.Errorf("go.mod does not pin go.temporal.io/server v%s", cluster.TemporalVersion)
	}
	b, err := os.ReadFile("../../docker-compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
			Volumes     []string          `yaml:"volumes"`
			Healthcheck *struct {
				Test []string `yaml:"test"`
			} `yaml:"healthcheck"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatal(err)
	}
	for name, image := range map[string]string{"temporal-schema": "admin-tools", "temporal": "server", "temporal-admin-tools": "admin-tools"} {
		if got, want := compose.Services[name].Image, "temporalio/"+image+":${TEMPORAL_VERSION:-"+cluster.TemporalVersion+"}"; got != want {
			t.Errorf("%s: image %q, want %q", name, got, want)
		}
	}

	pg := cluster.Postgres{Host: "postgres", Port: 5432, User: "runbook", Password: "${RUNBOOK_DB_PASSWORD:-runbook}", DB: "temporal", VisibilityDB: "temporal_visibility"}
	schema := compose.Services["temporal-schema"]
	for k, v := range cluster.SchemaEnv(pg) {
		if schema.Environment[k] != v {
			t.Errorf("temporal-schema: %s=%q, want %q", k, schema.Environment[k], v)
		}
	}
	script := strings.Join(schema.Command, "\n")
	for _, s := range []struct{ db, store string }{{pg.DB, "temporal"}, {pg.VisibilityDB, "visibility"}} {
		for _, step := range cluster.SchemaSteps(s.db, s.store, "/etc/temporal/schema") {
			if line := "temporal-sql-tool " + strings.Join(step, " "); !strings.Contains(script, line) {
				t.Errorf("temporal-schema does not run %q:\n%s", line, script)
			}
		}
	}

	server := compose.Services["temporal"]
	want := cluster.TemporalEnv(pg)
	want["DYNAMIC_CONFIG_FILE_PATH"] = "/etc/temporal/config/dynamicconfig/docker.yaml"
	if !maps.Equal(server.Environment, want) {
		t.Errorf("temporal environment:\n%v\nwant (cluster.TemporalEnv)\n%v", server.Environment, want)
	}
	if mount := "./cluster/" + cluster.DynamicConfigFile + ":" + want["DYNAMIC_CONFIG_FILE_PATH"] + ":ro"; !slices.Contains(server.Volumes, mount) {
		t.Errorf("temporal volumes %v, want %s", server.Volumes, mount)
	}
	if _, err := os.Stat("../../cluster/" + cluster.DynamicConfigFile); err != nil {
		t.Error(err)
	}

	admin := compose.Services["temporal-admin-tools"]
	health := cluster.HealthCommand + " --address temporal:7233"
	if admin.Healthcheck == nil || len(admin.Healthcheck.Test) != 2 || !strings.HasPrefix(admin.Healthcheck.Test[1], health+" && ") {
		t.Errorf("temporal-admin-tools health check %+v, want %q first", admin.Healthcheck, health)
	}
	setup := strings.Join(admin.Command, "\n")
	for _, s := range []string{"until " + health + ";", "--namespace " + cluster.Namespace + " --retention " + cluster.Retention} {
		if !strings.Contains(setup, s) {
			t.Errorf("temporal-admin-tools does not run %q:\n%s", s, setup)
		}
	}
}
