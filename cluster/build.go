package cluster

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// Binaries are the Temporal release's programs and its schema files.
type Binaries struct {
	Server, SQLTool string
	// SchemaRoot is the module's schema/ directory.
	SchemaRoot string
}

// BuildTemporal builds temporal-server and temporal-sql-tool from the
// go.temporal.io/server module go.mod pins, with the versions go.mod
// chooses for the dependencies they share with runbook (so the packages
// the test suite compiled already are reused). A copy of go.mod takes the
// few modules only those commands import (urfave/cli): go.mod itself
// stays as it is. The binaries are kept under GOCACHE keyed by version,
// where CI's cache keeps them too: the first build takes minutes on two
// cores, later ones nothing.
func BuildTemporal(logf func(string, ...any)) (Binaries, error) {
	mod, err := goCmd("list", "-m", "-f", "{{.Version}} {{.Dir}}", "go.temporal.io/server")
	if err != nil {
		return Binaries{}, err
	}
	version, dir, _ := strings.Cut(mod, " ")
	if version != "v"+TemporalVersion {
		return Binaries{}, fmt.Errorf("go.mod pins go.temporal.io/server %s, cluster.TemporalVersion is %s", version, TemporalVersion)
	}
	if dir == "" {
		return Binaries{}, fmt.Errorf("go.temporal.io/server %s is not in the module cache: go mod download go.temporal.io/server", version)
	}
	gocache, err := goCmd("env", "GOCACHE")
	if err != nil || gocache == "" || gocache == "off" {
		return Binaries{}, fmt.Errorf("temporal binaries: no GOCACHE (%v)", err)
	}
	gomod, err := goCmd("env", "GOMOD")
	if err != nil || gomod == "" || gomod == os.DevNull {
		return Binaries{}, fmt.Errorf("temporal binaries: not in the runbook module (%v)", err)
	}
	out := filepath.Join(gocache, "runbook-temporal", TemporalVersion+"-"+runtime.GOOS+"-"+runtime.GOARCH)
	b := Binaries{Server: filepath.Join(out, "temporal-server"), SQLTool: filepath.Join(out, "temporal-sql-tool"), SchemaRoot: filepath.Join(dir, "schema")}
	for _, bp := range [][2]string{{b.SQLTool, "go.temporal.io/server/cmd/tools/sql"}, {b.Server, "go.temporal.io/server/cmd/server"}} {
		bin, pkg := bp[0], bp[1]
		if _, err := os.Stat(bin); err == nil {
			continue
		}
		if err := os.MkdirAll(out, 0o755); err != nil {
			return Binaries{}, fmt.Errorf("temporal binaries: %w", err)
		}
		logf("building %s from go.temporal.io/server %s (once; kept in %s)", filepath.Base(bin), version, out)
		if err := buildWithModCopy(gomod, bin, pkg); err != nil {
			return Binaries{}, err
		}
	}
	return b, nil
}

// buildWithModCopy builds pkg to bin with a copy of go.mod and go.sum
// that may gain requirements; bin appears only when complete.
func buildWithModCopy(gomod, bin, pkg string) error {
	tmp, err := os.MkdirTemp("", "runbook-temporal-build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, name := range []string{"go.mod", "go.sum"} {
		data, err := os.ReadFile(filepath.Join(filepath.Dir(gomod), name))
		if err != nil {
			return fmt.Errorf("temporal binaries: %w", err)
		}
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
			return err
		}
	}
	part := fmt.Sprintf("%s.tmp%d", bin, os.Getpid())
	cmd := exec.Command("go", "build", "-mod=mod", "-modfile="+filepath.Join(tmp, "go.mod"), "-o", part, pkg)
	cmd.Dir = filepath.Dir(gomod)
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if msg, err := cmd.CombinedOutput(); err != nil {
		os.Remove(part)
		return fmt.Errorf("build %s: %w\n%s", pkg, err, msg)
	}
	return os.Rename(part, bin)
}

func goCmd(args ...string) (string, error) {
	var stderr bytes.Buffer
	cmd := exec.Command("go", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}
