package activities

import (
	"context"
	"maps"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
)

// inheritedEnv are the only variables of the worker's environment a
// process an action starts inherits: where programs are, a home, a
// temporary directory, and the locale and time zone output is written in.
// The rest of the worker's environment holds its secrets
// (RUNBOOK_SECRET_*), its Temporal and database settings and webhook keys,
// none of which a step declared.
var inheritedEnv = []string{"PATH", "HOME", "TMPDIR", "TZ", "LANG", "LANGUAGE",
	"LC_ALL", "LC_CTYPE", "LC_COLLATE", "LC_MESSAGES", "LC_MONETARY", "LC_NUMERIC", "LC_TIME"}

// PassEnvVar names the worker variable that lists (comma- or
// space-separated) more of its variables for processes to inherit, as an
// operator chooses: proxies, CA bundles, a tool's settings. RUNBOOK_*
// names in it are ignored, so no secret or setting of the worker crosses.
const PassEnvVar = "RUNBOOK_PASS_ENV"

// processEnv is the environment of every process an action starts: the
// inherited variables the worker has, then set (which wins), sorted.
func processEnv(set map[string]string) []string {
	env := map[string]string{}
	names := slices.Concat(inheritedEnv, strings.FieldsFunc(os.Getenv(PassEnvVar), func(r rune) bool { return r == ',' || r == ' ' }))
	for _, k := range names {
		if v, ok := os.LookupEnv(k); ok && !strings.HasPrefix(k, "RUNBOOK_") {
			env[k] = v
		}
	}
	maps.Copy(env, set)
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// command builds every process an action starts (a test checks that no
// other file calls exec.Command), with the environment processEnv(env):
// never the worker's own.
func command(env map[string]string, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = processEnv(env)
	return cmd
}

// commandContext is command, killed when ctx ends.
func commandContext(ctx context.Context, env map[string]string, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = processEnv(env)
	return cmd
}

// envName is what a step may name an environment variable: a shell
// identifier. Anything else (BASH_FUNC_x%%, "A=1; cmd") is either code to
// some shell or, in ssh's remote command text, an injection.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// checkEnvNames refuses a step's env whose names are not identifiers.
func checkEnvNames(action string, env map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(env)) {
		if !envName.MatchString(k) {
			return badInput("%s: env name %q is not a shell identifier (letters, digits and _, not first a digit)", action, k)
		}
	}
	return nil
}
