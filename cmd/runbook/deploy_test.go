package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
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
	for _, name := range []string{"postgres", "temporal", "temporal-ui", "api", "worker"} {
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
		if name != "worker" && name != "temporal-ui" && s.Healthcheck == nil {
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
