package activities

import (
	"context"
	"slices"

	"go.temporal.io/sdk/temporal"
)

// SecretsCheck is the activity a run calls before its first step with the
// names of every secret its plan reads.
const SecretsCheck = "secrets.check"

// SecretsCheckInput names the secrets to look up.
type SecretsCheckInput struct {
	Names []string `json:"names"`
}

// SecretsCheckOutput names those a step could not read: missing from the
// worker's sources, or set but too short to be redacted. It never holds a
// value.
type SecretsCheckOutput struct {
	Missing  []string `json:"missing,omitempty"`
	TooShort []string `json:"tooShort,omitempty"`
}

// CheckSecrets resolves each name as a step would and reports the names
// that would fail it (SecretNotFound). A worker whose secrets cannot be
// listed for redaction runs no action, so it fails the check
// (SecretSourceError).
func (e *Env) CheckSecrets(ctx context.Context, in SecretsCheckInput) (SecretsCheckOutput, error) {
	if _, err := e.currentRedactor(); err != nil {
		return SecretsCheckOutput{}, temporal.NewApplicationError("secrets cannot be listed for redaction, so no action runs: "+err.Error(), ErrSecretSource)
	}
	var out SecretsCheckOutput
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
