// Command runbook validates, previews and (in later releases) runs
// declarative YAML runbooks.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// command is one subcommand.
type command struct {
	name    string
	usage   string
	summary string
	// more are further forms of the command line, each a usage of its own.
	more []string
	// hidden commands are for the shell completion scripts, not for help.
	hidden bool
	run    func(args []string, out, errOut io.Writer) error
}

// forms are every usage line of the command.
func (c *command) forms() []string { return append([]string{c.usage}, c.more...) }

// usageError is a command line the command cannot take: unknown flags,
// missing or extra arguments. It exits 2 with the command's usage.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// exitError carries an exit code without printing more.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func commands() []*command {
	return []*command{
		{name: "validate", usage: "validate [--json] [--lib DIR] FILE|DIR...", summary: "check runbooks and freezes and print every problem", run: runValidate},
		{name: "plan", usage: "plan [--json] [--lib DIR] FILE [-p name=value]...", summary: "dry-run a runbook: params, what runs and why, next schedule fires, the freezes of the library that hold it back now or within 30 days", run: runPlan},
		{name: "graph", usage: "graph [--lib DIR] FILE", summary: "print the runbook as a Mermaid flowchart", run: runGraph},
		{name: "schema", usage: "schema", summary: "print the JSON Schema of the runbook format", run: runSchema},
		{name: "actions", usage: "actions [--json|--markdown]", summary: "list the actions with their inputs and outputs", run: runActions},
		{name: "worker", usage: "worker [--temporal host:port] [--namespace ns] [--db DSN]", summary: "run runbooks' workflows and actions for a Temporal cluster", run: runWorker},
		{name: "server", usage: "server [--listen addr] [--db DSN] [--temporal host:port]", summary: "serve the API against an existing Temporal and database", run: runServer},
		{name: "dev", usage: "dev [--dir .runbook] [--listen 127.0.0.1:8080]", summary: "run everything locally: Temporal, worker, API, records; register examples/", run: runDev},
		{name: "apply", usage: "apply FILE|DIR...", summary: "register runbooks and freezes (kind: Freeze) with the API", run: runApply},
		{name: "runbooks", usage: "runbooks [--json]", summary: "list the registered runbooks with their latest versions", run: runRunbooks},
		{name: "versions", usage: "versions NAME [--json]", summary: "list a runbook's versions", run: runVersions},
		{name: "diff", usage: "diff NAME [V1] [V2] [--json]", summary: "what changed between two versions (default: the previous and the latest)", run: runDiff},
		{name: "run", usage: "run NAME [-p name=value]... [--break-glass REASON] [--incident ID] [--follow] [-q]", summary: "start a run; --follow prints its steps until it ends", run: runRun},
		{name: "follow", usage: "follow RUN", summary: "print a run's steps until it ends; exit 1 unless it succeeds", run: runFollow},
		{name: "logs", usage: "logs RUN [STEP|STEP[ITEM]] [-f] [--since SEQ] [--tail N]", summary: "print the lines steps printed, with times; -f follows until the run ends (exit 1 unless it succeeds)", run: runLogs},
		{name: "show", usage: "show RUN [--json]", summary: "what a run did: params, steps, errors, approvals, outputs", run: runShow},
		{name: "report", usage: "report RUN [--markdown]", summary: "the evidence of an ended run for an auditor (JSON, or Markdown): version and hash, who started and approved, step timings, params, outputs", run: runReport},
		{name: "runs", usage: "runs [--runbook NAME] [--status S] [--since T] [--until T] [--limit N] [--json]", summary: "list runs, newest first", run: runRuns},
		{name: "incidents", usage: "incidents [--status S] [--service S] [--severity S] [--since T] [--limit N] [--json]", summary: "list incidents, newest first, with their times to acknowledge and resolve", run: runIncidents},
		{name: "incident", usage: "incident show ID [--json|--markdown]", more: []string{"incident open --title T [--service S] [--severity S] [--key K]", "incident note ID TEXT", "incident ack|resolve|reopen ID [--reason text]"}, summary: "an incident with its runs and timeline (--markdown for the post-incident review); open, annotate, acknowledge, resolve or reopen one", run: runIncident},
		{name: "approve", usage: "approve RUN STEP [--reject] [-m text] [--input name=value]... [--wait 1m]", summary: "vote on an approval", run: runApprove},
		{name: "decide", usage: "decide RUN STEP retry|skip|fail [-m text] [--output name=value]... [--input name=value]... [--item N]", summary: "decide on a failed step that waits for a decision (onStepFailure: ask)", run: runDecide},
		{name: "approvals", usage: "approvals [--mine]", summary: "list the approvals runs wait for", run: runApprovals},
		{name: "schedules", usage: "schedules [list]", more: []string{"schedules pause|unpause|trigger RUNBOOK SCHEDULE"}, summary: "list schedules with their next fire time; pause, unpause or fire one", run: runSchedules},
		{name: "freezes", usage: "freezes [list] [--runbook NAME] [--json]", more: []string{"freezes delete NAME"}, summary: "list change freezes: active or not, next window, the runbooks they hold back; delete lifts one (register them with apply)", run: runFreezes},
		{name: "cancel", usage: "cancel RUN [--reason text]", summary: "cancel a run; exit 1 if it has already ended", run: runCancel},
		{name: "rerun", usage: "rerun RUN [--from STEP|STEP[ITEM]] [--latest] [-p name=value]... [--reason text] [--break-glass REASON] [--follow]", more: []string{"rerun --failed --runbook NAME [--since 2h] [--from STEP] [--max-concurrency N]"}, summary: "rerun an ended run as a new one, resumed --from a step with the results before it reused; --failed reruns a runbook's failed runs, stopping at a new failure", run: runRerun},
		{name: "audit", usage: "audit [--run ID] [--runbook NAME] [--actor U] [--action A] [--outcome ok|refused] [--since T] [--until T] [--limit N] [--json]", summary: "who did what, newest first, refusals with the reason (--since 24h or RFC 3339)", run: runAudit},
		{name: "token", usage: "token create|list|revoke [--db DSN]", summary: "create (--ttl), list and revoke API tokens; --db or the admin API", run: runToken},
		{name: "completion", usage: "completion bash|zsh", summary: "print a shell completion script", run: runCompletion},
		{name: "__complete", usage: "__complete KIND PREFIX [RUN]", hidden: true, summary: "list completions for the shell scripts", run: runComplete},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, out, errOut io.Writer) int {
	if len(args) == 0 {
		usage(errOut)
		return 2
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		return help(args[1:], out, errOut)
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(args[1:], out, errOut)
		var ee *exitError
		var ue *usageError
		switch {
		case err == nil:
			return 0
		case errors.As(err, &ee):
			return ee.code
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, &ue):
			fmt.Fprintf(errOut, "runbook %s: %v\n", c.name, err)
			for i, f := range c.forms() {
				fmt.Fprintf(errOut, "%s runbook %s\n", map[bool]string{true: "usage:", false: "      "}[i == 0], f)
			}
			return 2
		}
		fmt.Fprintf(errOut, "runbook %s: %v\n", c.name, err)
		return 1
	}
	fmt.Fprintf(errOut, "runbook: unknown command %q\n\n", args[0])
	usage(errOut)
	return 2
}

// help prints every command, or one command's usage and summary.
func help(args []string, out, errOut io.Writer) int {
	if len(args) == 0 {
		usage(out)
		return 0
	}
	for _, c := range commands() {
		if len(args) == 1 && c.name == args[0] && !c.hidden {
			for i, f := range c.forms() {
				fmt.Fprintf(out, "%s runbook %s\n", map[bool]string{true: "usage:", false: "      "}[i == 0], f)
			}
			fmt.Fprintf(out, "\n%s. runbook %s -h lists its flags.\n", c.summary, c.name)
			return 0
		}
	}
	fmt.Fprintf(errOut, "runbook help: name one command, not %q\nusage: runbook help [COMMAND]\n", strings.Join(args, " "))
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "runbook: declarative runbooks, checked before they run.")
	fmt.Fprintln(w, "\nUsage:")
	cs := commands()
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	for _, c := range cs {
		if c.hidden {
			continue
		}
		for i, f := range c.forms() {
			summary := c.summary
			if i > 0 {
				summary = ""
			}
			if len(f) > 52 && summary != "" {
				fmt.Fprintf(w, "  runbook %s\n  %-60s %s\n", f, "", summary)
				continue
			}
			fmt.Fprintln(w, strings.TrimRight(fmt.Sprintf("  runbook %-52s %s", f, summary), " "))
		}
	}
	fmt.Fprintln(w, "\nrunbook help COMMAND prints a command's usage, runbook COMMAND -h its flags.")
	fmt.Fprintln(w, "Commands against the API take --addr (RUNBOOK_ADDR) and --token (RUNBOOK_TOKEN).")
	fmt.Fprintln(w, "\nExit status:")
	fmt.Fprintln(w, "  0  done; for run --follow and follow, the run succeeded")
	fmt.Fprintln(w, "  1  failed: an error, a refusal of the API, a run that did not succeed, invalid runbooks")
	fmt.Fprintln(w, "  2  the command line is wrong: an unknown command, flag or argument, a missing argument")
}

// flags returns a FlagSet that reports to errOut and stops on --help.
func flags(name string, errOut io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("runbook "+name, flag.ContinueOnError)
	fs.SetOutput(errOut)
	// A mistake gets one line and the usage (run prints them); the flags
	// are listed when asked for with -h.
	fs.Usage = func() {}
	return fs
}

// multiFlag collects a repeated flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// pairFlag collects a repeated name=value flag; a value without a name
// is refused while the flags are parsed, so the command exits 2.
type pairFlag []string

func (m *pairFlag) String() string { return strings.Join(*m, ",") }
func (m *pairFlag) Set(v string) error {
	if name, _, ok := strings.Cut(v, "="); !ok || strings.TrimSpace(name) == "" {
		return errors.New("want name=value")
	}
	*m = append(*m, v)
	return nil
}

// interleaved parses flags that may come before or after positionals; a
// flag it does not know is a usage error.
func interleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprintf(fs.Output(), "Usage of %s:\n", fs.Name())
				fs.PrintDefaults()
				return nil, err
			}
			return nil, &usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// noArgs parses the flags of a command that takes no positionals.
func noArgs(fs *flag.FlagSet, args []string) error {
	pos, err := interleaved(fs, args)
	if err == nil && len(pos) > 0 {
		err = usagef("unexpected argument %q", pos[0])
	}
	return err
}
