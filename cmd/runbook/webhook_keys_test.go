package main

import (
	"os"
	"path/filepath"
	"testing"
)

// The API's webhook keys and the workers' secrets never mix, also in
// runbook dev, where both live in one process.
func TestWebhookKeysAreASourceOfTheirOwn(t *testing.T) {
	hooks, secrets := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(hooks, "FROM_DIR"), []byte("webhook-key-from-a-file\n"), 0o600)
	os.WriteFile(filepath.Join(secrets, "WORKER_FILE"), []byte("worker-secret\n"), 0o600)
	t.Setenv("RUNBOOK_WEBHOOK_SECRET_FROM_ENV", "webhook-key-from-env")
	t.Setenv("RUNBOOK_SECRET_WORKER_ENV", "worker-secret")
	t.Setenv("RUNBOOK_SECRETS_DIR", secrets)
	t.Setenv("RUNBOOK_WEBHOOK_SECRETS_DIR", hooks)

	keys, workers := webhookKeys(hooks), secretSource(secrets)
	for name, want := range map[string]string{"FROM_DIR": "webhook-key-from-a-file", "FROM_ENV": "webhook-key-from-env"} {
		if got, err := keys.Secret(name); err != nil || got != want {
			t.Errorf("webhook key %s = %q, %v", name, got, err)
		}
		if got, err := workers.Secret(name); err == nil {
			t.Errorf("a worker reads webhook key %s: %q", name, got)
		}
	}
	for _, name := range []string{"WORKER_FILE", "WORKER_ENV"} {
		if got, err := workers.Secret(name); err != nil || got != "worker-secret" {
			t.Errorf("worker secret %s = %q, %v", name, got, err)
		}
		if got, err := keys.Secret(name); err == nil {
			t.Errorf("the API verifies webhooks with worker secret %s: %q", name, got)
		}
	}
}
