package activities

import "github.com/opsrunbook/runbook/plan"

// Catalog returns the specs of every action, the set the compiler checks
// runbooks against.
func Catalog() plan.SpecCatalog {
	return plan.NewCatalog(
		ShellSpec,
		HTTPRequestSpec,
		HTTPCheckSpec,
		TCPCheckSpec,
		NotifySpec,
		LogSpec,
		SSHSpec,
		BackupFilesSpec,
		BackupVerifySpec,
		RestoreFilesSpec,
		BackupPruneSpec,
		TLSCheckSpec,
		PostgresQuerySpec,
		CapacityForecastSpec,
		MetricsQuerySpec,
		BackupPostgresSpec,
		RestorePostgresSpec,
		PostgresExecSpec,
		BackupListSpec,
	)
}

// Handlers returns the implementation of every action in Catalog, by name,
// each behind the redaction of secrets (withRedaction).
func (e *Env) Handlers() map[string]Handler {
	hs := map[string]Handler{
		ShellSpec.Name:            e.Shell,
		HTTPRequestSpec.Name:      e.HTTPRequest,
		HTTPCheckSpec.Name:        e.HTTPCheck,
		TCPCheckSpec.Name:         e.TCPCheck,
		NotifySpec.Name:           e.Notify,
		LogSpec.Name:              e.Log,
		SSHSpec.Name:              e.SSH,
		BackupFilesSpec.Name:      e.BackupFiles,
		BackupVerifySpec.Name:     e.BackupVerify,
		RestoreFilesSpec.Name:     e.RestoreFiles,
		BackupPruneSpec.Name:      e.BackupPrune,
		TLSCheckSpec.Name:         e.TLSCheck,
		PostgresQuerySpec.Name:    e.PostgresQuery,
		CapacityForecastSpec.Name: e.CapacityForecast,
		MetricsQuerySpec.Name:     e.MetricsQuery,
		BackupPostgresSpec.Name:   e.BackupPostgres,
		RestorePostgresSpec.Name:  e.RestorePostgres,
		PostgresExecSpec.Name:     e.PostgresExec,
		BackupListSpec.Name:       e.BackupList,
	}
	for name, spec := range Catalog() {
		if spec.Heartbeats {
			hs[name] = withHeartbeat(hs[name])
		}
		hs[name] = e.withRedaction(hs[name])
	}
	return hs
}
