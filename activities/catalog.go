package activities

import "github.com/opsrunbook/runbook/runbooks"

// Catalog returns the specs of every action, the set the compiler checks
// runbooks against.
func Catalog() runbooks.SpecCatalog {
	return runbooks.NewCatalog(
		ShellSpec,
		HTTPRequestSpec,
		HTTPCheckSpec,
		TCPCheckSpec,
		NotifySpec,
		LogSpec,
		SSHSpec,
	)
}
