package activities

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// SecretSource gives secret values by name.
type SecretSource interface {
	Secret(name string) (string, error)
}

// EnvSecrets reads secret NAME from the environment variable
// RUNBOOK_SECRET_<NAME>.
type EnvSecrets struct{}

// Secret implements SecretSource.
func (EnvSecrets) Secret(name string) (string, error) {
	if v, ok := os.LookupEnv("RUNBOOK_SECRET_" + name); ok {
		return v, nil
	}
	return "", fmt.Errorf("secret %s: RUNBOOK_SECRET_%s is not set", name, name)
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

// Secrets tries each source in turn.
type Secrets []SecretSource

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
