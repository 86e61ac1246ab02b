package activities

import "github.com/opsrunbook/runbook/runbooks"

// ShellSpec runs a command or a shell script on the worker.
var ShellSpec = &runbooks.ActionSpec{
	Name:        "shell",
	Description: "Run a command (argv list) or a script (run by /bin/sh -eu) on the worker. Template values reach the process as arguments or environment, never spliced into shell text.",
	Inputs: []runbooks.Field{
		{Name: "command", Type: runbooks.ListOf(runbooks.StringType), Description: "Program and arguments, run without a shell."},
		{Name: "script", Type: runbooks.StringType, Description: "Script text run by /bin/sh -eu; pass values through env."},
		{Name: "env", Type: runbooks.MapOf(runbooks.StringType), Description: "Extra environment variables."},
		{Name: "dir", Type: runbooks.StringType, Description: "Working directory."},
		{Name: "stdin", Type: runbooks.StringType, Description: "Text written to standard input."},
		{Name: "okExitCodes", Type: runbooks.ListOf(runbooks.IntType), Default: []any{int64(0)}, Description: "Exit codes that count as success."},
		{Name: "parseJson", Type: runbooks.BoolType, Default: false, Description: "Parse stdout as JSON into the json output."},
	},
	Outputs: []runbooks.Field{
		{Name: "exitCode", Type: runbooks.IntType, Description: "The process's exit code."},
		{Name: "stdout", Type: runbooks.StringType, Description: "The last 64 KiB of standard output."},
		{Name: "stderr", Type: runbooks.StringType, Description: "The last 64 KiB of standard error."},
		{Name: "json", Type: runbooks.AnyType, Description: "stdout parsed as JSON, when parseJson is set."},
	},
	ExactlyOne: [][]string{{"command", "script"}},
}
