package activities

import "github.com/opsrunbook/runbook/runbooks"

// SSHSpec runs a command or script on a remote host over SSH.
var SSHSpec = &runbooks.ActionSpec{
	Name:        "ssh",
	Description: "Run a command or a script on a host over SSH. The host key must match knownHosts: there is no blind trust. Outputs are those of shell.",
	Inputs: []runbooks.Field{
		{Name: "host", Type: runbooks.StringType, Required: true, Description: "Host name or IP address."},
		{Name: "port", Type: runbooks.IntType, Default: int64(22), Description: "SSH port."},
		{Name: "user", Type: runbooks.StringType, Required: true, Description: "Login user."},
		{Name: "privateKey", Type: runbooks.StringType, Required: true, Description: "PEM private key; use ${{ secrets.NAME }}."},
		{Name: "knownHosts", Type: runbooks.StringType, Required: true, Description: "known_hosts lines that the host's key must match."},
		{Name: "command", Type: runbooks.ListOf(runbooks.StringType), Description: "Program and arguments; each is shell-quoted for the remote shell."},
		{Name: "script", Type: runbooks.StringType, Description: "Script text run by /bin/sh -eu on the host; pass values through env."},
		{Name: "env", Type: runbooks.MapOf(runbooks.StringType), Description: "Environment variables, exported before the command runs."},
		{Name: "stdin", Type: runbooks.StringType, Description: "Text written to standard input (not with script)."},
		{Name: "okExitCodes", Type: runbooks.ListOf(runbooks.IntType), Default: []any{int64(0)}, Description: "Exit codes that count as success."},
		{Name: "parseJson", Type: runbooks.BoolType, Default: false, Description: "Parse stdout as JSON into the json output."},
		{Name: "connectTimeout", Type: runbooks.DurationType, Default: "10s", Description: "Limit for connecting and the SSH handshake."},
	},
	Outputs:    ShellSpec.Outputs,
	ExactlyOne: [][]string{{"command", "script"}},
	AtMostOne:  [][]string{{"script", "stdin"}},
}
