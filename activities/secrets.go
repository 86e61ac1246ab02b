package activities

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// SecretSource gives secret values by name.
type SecretSource interface {
	Secret(name string) (string, error)
}

// SecretStore is a SecretSource that can also list every value it holds.
// A worker needs one: it redacts all of them from what actions return,
// not only those the step read.
type SecretStore interface {
	SecretSource
	Values() ([]string, error)
}

// secretEnvPrefix names the environment variables EnvSecrets reads.
const secretEnvPrefix = "RUNBOOK_SECRET_"

// EnvSecrets reads secret NAME from the environment variable
// RUNBOOK_SECRET_<NAME>.
type EnvSecrets struct{}

// Secret implements SecretSource.
func (EnvSecrets) Secret(name string) (string, error) {
	if v, ok := os.LookupEnv(secretEnvPrefix + name); ok {
		return v, nil
	}
	return "", fmt.Errorf("secret %s: RUNBOOK_SECRET_%s is not set", name, name)
}

// Values implements SecretStore: every RUNBOOK_SECRET_* variable's value.
func (EnvSecrets) Values() ([]string, error) {
	var out []string
	for _, kv := range os.Environ() {
		if k, v, _ := strings.Cut(kv, "="); strings.HasPrefix(k, secretEnvPrefix) && v != "" {
			out = append(out, v)
		}
	}
	return out, nil
}

// DirSecrets reads secret NAME from the file NAME in a directory (as
// Kubernetes and Docker mount them); a trailing newline is dropped.
type DirSecrets string

// Secret implements SecretSource.
func (d DirSecrets) Secret(name string) (string, error) {
	if strings.ContainsAny(name, `/\.`) {
		return "", fmt.Errorf("secret %s: invalid name", name)
	}
	b, err := os.ReadFile(filepath.Join(string(d), name))
	if err != nil {
		return "", fmt.Errorf("secret %s: %w", name, err)
	}
	return strings.TrimSuffix(string(b), "\n"), nil
}

// Values implements SecretStore: the content of every regular file in the
// directory (links followed, as Kubernetes mounts are links), whatever
// its name, so even a file no step can name is redacted.
func (d DirSecrets) Values() ([]string, error) {
	entries, err := os.ReadDir(string(d))
	if err != nil {
		return nil, fmt.Errorf("secrets directory: %w", err)
	}
	var out []string
	for _, e := range entries {
		path := filepath.Join(string(d), e.Name())
		st, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue // a dangling link
		} else if err != nil {
			return nil, fmt.Errorf("secrets directory: %w", err)
		}
		if !st.Mode().IsRegular() {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("secrets directory: %w", err)
		}
		if v := strings.TrimSuffix(string(b), "\n"); v != "" {
			out = append(out, v)
		}
	}
	return out, nil
}

// Secrets tries each source in turn.
type Secrets []SecretStore

// Secret implements SecretSource.
func (s Secrets) Secret(name string) (string, error) {
	var errs []string
	for _, src := range s {
		v, err := src.Secret(name)
		if err == nil {
			return v, nil
		}
		errs = append(errs, err.Error())
	}
	return "", fmt.Errorf("%s", strings.Join(errs, "; "))
}

// Values implements SecretStore: the values of every source.
func (s Secrets) Values() ([]string, error) {
	var out []string
	for _, src := range s {
		vs, err := src.Values()
		if err != nil {
			return nil, err
		}
		out = append(out, vs...)
	}
	return out, nil
}
