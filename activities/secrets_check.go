package activities

import (
	"context"
	"slices"

	"github.com/opsrunbook/runbook/plan"

	"go.temporal.io/sdk/temporal"
)

// CheckSecrets resolves each name as a step would and reports the names
// that would fail it (SecretNotFound). A worker whose secrets cannot be
// listed for redaction runs no action, so it fails the check
// (SecretSourceError).
func (e *Env) CheckSecrets(ctx context.Context, in plan.SecretsCheckInput) (plan.SecretsCheckOutput, error) {
	if _, err := e.currentRedactor(); err != nil {
		return plan.SecretsCheckOutput{}, temporal.NewApplicationError("secrets cannot be listed for redaction, so no action runs: "+err.Error(), plan.ErrSecretSource)
	}
	var out plan.SecretsCheckOutput
	names := slices.Sorted(slices.Values(in.Names))
	for _, name := range slices.Compact(names) {
		if e.Secrets == nil {
			out.Missing = append(out.Missing, name)
			continue
		}
		val, err := e.Secrets.Secret(name)
		switch {
		case err != nil:
			out.Missing = append(out.Missing, name)
		case val != "" && len(val) < MinSecretLen:
			out.TooShort = append(out.TooShort, name)
		}
	}
	return out, nil
}
