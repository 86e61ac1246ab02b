package main

import (
	"strings"
	"testing"
)

// argsOf is a command line that a usage form takes with every positional
// it can hold filled ("1" for NAME, RUN, ...; the first of a|b|c), and
// whether its last positional repeats (FILE...), so that one more
// argument is still taken.
func argsOf(form string) (args []string, variadic bool) {
	words := strings.Fields(form)[1:]
	for i := 0; i < len(words); i++ {
		w := words[i]
		if strings.HasPrefix(w, "[") {
			group := w
			for !strings.Contains(words[i], "]") {
				i++
				group += " " + words[i]
			}
			inner := strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(group, "["), "..."), "]")
			if strings.HasPrefix(inner, "-") {
				continue // an optional flag
			}
			w = inner
		}
		if strings.HasSuffix(w, "...") {
			variadic = true
		}
		w, _, _ = strings.Cut(strings.TrimSuffix(w, "..."), "|")
		if w == strings.ToUpper(w) {
			w = "1"
		}
		args = append(args, w)
	}
	return args, variadic
}

func TestArgsOf(t *testing.T) {
	for form, want := range map[string]string{
		"plan [--json] [--lib DIR] FILE [-p name=value]...": "1",
		"diff NAME [V1] [V2] [--json]":                      "1 1 1",
		"schedules pause|unpause|trigger RUNBOOK SCHEDULE":  "pause 1 1",
		"schedules [list]":                                  "list",
		"validate [--json] [--lib DIR] FILE|DIR...":         "1 ...",
		"actions [--json|--markdown]":                       "",
		"approve RUN STEP [--reject] [-m text] [--wait 1m]": "1 1",
		"token create|list|revoke [--db DSN]":               "create",
	} {
		args, variadic := argsOf(form)
		got := strings.Join(args, " ")
		if variadic {
			got += " ..."
		}
		if got != want {
			t.Errorf("%s: %q, want %q", form, got, want)
		}
	}
}

// Every command, and every form of it, refuses a stray argument and a
// stray flag with exit 2 and its usage, before it does anything: the
// table is the commands themselves, so a new command is covered.
func TestEveryCommandRefusesStrays(t *testing.T) {
	t.Setenv("RUNBOOK_ADDR", "http://127.0.0.1:1") // nothing listens: a command that went on fails with 1
	t.Setenv("RUNBOOK_TOKEN", "")
	for _, c := range commands() {
		for _, form := range c.forms() {
			args, variadic := argsOf(form)
			lines := [][]string{append(append([]string{c.name}, args...), "--no-such-flag")}
			if !variadic {
				lines = append(lines, append(append([]string{c.name}, args...), "stray"))
			}
			for _, line := range lines {
				code, out, errOut := runCLI(t, line...)
				if code != 2 || !strings.Contains(errOut, "usage: runbook "+c.name) || out != "" {
					t.Errorf("runbook %s: exit %d, stdout %q, stderr %q; want exit 2 with the usage", strings.Join(line, " "), code, out, errOut)
				}
			}
		}
	}
}

func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		code      int
		out, errs string
	}{
		{[]string{"help", "schedules"}, 0, "usage: runbook schedules [list]\n       runbook schedules pause|unpause|trigger RUNBOOK SCHEDULE\n\n" +
			"list schedules with their next fire time; pause, unpause or fire one. runbook schedules -h lists its flags.\n", ""},
		{[]string{"help", "deploy"}, 2, "", "runbook help: name one command, not \"deploy\"\nusage: runbook help [COMMAND]\n"},
		{[]string{"help", "show", "extra"}, 2, "", "runbook help: name one command, not \"show extra\"\nusage: runbook help [COMMAND]\n"},
	} {
		if code, out, errs := runCLI(t, tc.args...); code != tc.code || out != tc.out || errs != tc.errs {
			t.Errorf("%v: exit %d\n%q\n%q", tc.args, code, out, errs)
		}
	}
	code, out, _ := runCLI(t, "help")
	for _, want := range []string{"\nExit status:\n  0  done;", "\n  2  the command line is wrong", "  runbook show RUN [--json]"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("help lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "__complete") {
		t.Errorf("help lists the hidden __complete")
	}
}

// What the environment holds for secret flags (a token, a DSN with its
// password) never shows in the help an unknown flag prints.
func TestHelpShowsNoSecretFromTheEnvironment(t *testing.T) {
	const token, dsn = "rbk_secret_token_value", "postgres://u:hunter2@127.0.0.1:1/x"
	t.Setenv("RUNBOOK_ADDR", "http://127.0.0.1:1")
	t.Setenv("RUNBOOK_TOKEN", token)
	t.Setenv("RUNBOOK_DB", dsn)
	for _, c := range commands() {
		_, out, errOut := runCLI(t, c.name, "-h")
		if strings.Contains(out+errOut, "rbk_secret") || strings.Contains(out+errOut, "hunter2") {
			t.Errorf("runbook %s --no-such-flag shows a secret from the environment:\n%s", c.name, errOut)
		}
	}
	_, _, errOut := runCLI(t, "server", "-h")
	if !strings.Contains(errOut, "(default .runbook/runbook.db)") {
		t.Errorf("server's help lost the --db default:\n%s", errOut)
	}
}
