package activities

import "github.com/opsrunbook/runbook/runbooks"

// TCPCheckSpec probes a TCP port. Unhealthy is an output, not a failure.
var TCPCheckSpec = &runbooks.ActionSpec{
	Name:        "tcp.check",
	Description: "Open a TCP connection to host:port. An unreachable port is an output, not a failure.",
	Inputs: []runbooks.Field{
		{Name: "host", Type: runbooks.StringType, Required: true, Description: "Host name or IP address."},
		{Name: "port", Type: runbooks.IntType, Required: true, Description: "TCP port."},
		{Name: "timeout", Type: runbooks.DurationType, Default: "3s", Description: "Connect timeout."},
	},
	Outputs: []runbooks.Field{
		{Name: "healthy", Type: runbooks.BoolType, Description: "Whether the connection opened."},
		{Name: "status", Type: runbooks.StringType, Description: "open, refused, timeout or unreachable."},
		{Name: "latencyMs", Type: runbooks.IntType, Description: "Time to connect, in milliseconds."},
		{Name: "error", Type: runbooks.StringType, Description: "Why the port was unhealthy, if it was."},
	},
}
