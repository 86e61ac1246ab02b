package main

import (
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"time"
)

// runCompletion prints a completion script for bash or zsh. Commands and
// subcommands complete from this binary; runbook names, run ids, step ids
// and schedules from the API (RUNBOOK_ADDR, RUNBOOK_TOKEN) through the
// hidden `runbook __complete`.
func runCompletion(args []string, out, errOut io.Writer) error {
	fs := flags("completion", errOut)
	pos, err := interleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("name a shell: bash or zsh")
	}
	var names []string
	for _, c := range commands() {
		if !c.hidden {
			names = append(names, c.name)
		}
	}
	sort.Strings(names)
	script := strings.ReplaceAll(bashCompletion, "@COMMANDS@", strings.Join(names, " "))
	switch pos[0] {
	case "bash":
		fmt.Fprint(out, script)
	case "zsh":
		fmt.Fprint(out, "#compdef runbook\n# zsh completion for runbook: runs the bash completion through bashcompinit.\nautoload -U +X compinit && compinit\nautoload -U +X bashcompinit && bashcompinit\n"+script)
	default:
		return usagef("unknown shell %q: want bash or zsh", pos[0])
	}
	return nil
}

// bashCompletion completes runbook's command lines in bash (and in zsh
// through bashcompinit). The words after flags that take a value are
// skipped when counting arguments.
const bashCompletion = `# bash completion for runbook: source <(runbook completion bash)
_runbook() {
  local cur="${COMP_WORDS[COMP_CWORD]}" cmd="${COMP_WORDS[1]}" bin="${COMP_WORDS[0]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "@COMMANDS@ help" -- "$cur"))
    return
  fi
  local i w n=0 skip=0 args=()
  for ((i = 2; i < COMP_CWORD; i++)); do
    w="${COMP_WORDS[i]}"
    if [ "$skip" -eq 1 ]; then skip=0; continue; fi
    case "$w" in
      -p|-m|--addr|-addr|--token|-token|--wait|-wait|--input|-input|--reason|-reason|--runbook|-runbook|--status|-status|--since|-since|--until|-until|--limit|-limit|--lib|-lib|--idempotency-key|-idempotency-key|--db|-db) skip=1 ;;
      -*) ;;
      *) args+=("$w"); n=$((n + 1)) ;;
    esac
  done
  case "${COMP_WORDS[COMP_CWORD-1]}" in
    --status|-status) COMPREPLY=($(compgen -W "running succeeded failed cancelled" -- "$cur")); return ;;
    --runbook|-runbook) COMPREPLY=($("$bin" __complete runbooks "$cur" 2>/dev/null)); return ;;
  esac
  local kind="" extra=""
  case "$cmd:$n" in
    show:0|follow:0|logs:0|cancel:0|approve:0) kind=runs ;;
    approve:1|logs:1) kind=steps; extra="${args[0]}" ;;
    run:0|versions:0|diff:0) kind=runbooks ;;
    schedules:0) COMPREPLY=($(compgen -W "list pause unpause trigger" -- "$cur")); return ;;
    schedules:1) [ "${args[0]}" != list ] && kind=runbooks ;;
    schedules:2) kind=schedules; extra="${args[1]}" ;;
    token:0) COMPREPLY=($(compgen -W "create list revoke" -- "$cur")); return ;;
    completion:0) COMPREPLY=($(compgen -W "bash zsh" -- "$cur")); return ;;
  esac
  if [ -n "$kind" ]; then
    COMPREPLY=($("$bin" __complete "$kind" "$cur" $extra 2>/dev/null))
    return
  fi
  COMPREPLY=($(compgen -f -- "$cur"))
}
complete -o filenames -F _runbook runbook bin/runbook ./bin/runbook
`

// completionTimeout bounds the API call of a completion: a shell waits.
const completionTimeout = 3 * time.Second

// runComplete prints the runbook names, run ids, step ids of a run, or
// schedules of a runbook that start with PREFIX, one a line; nothing when
// the API does not answer, for a completion must never print an error.
func runComplete(args []string, out, errOut io.Writer) error {
	fs := flags("__complete", errOut)
	connect := clientFlags(fs)
	pos, err := interleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 2 || len(pos) > 3 {
		return usagef("name a kind (runbooks, runs, steps, schedules), a prefix and, for steps and schedules, a run or a runbook")
	}
	kind, prefix := pos[0], pos[1]
	needs := map[string]bool{"runbooks": false, "runs": false, "steps": true, "schedules": true}
	need, ok := needs[kind]
	if !ok {
		return usagef("unknown kind %q: want runbooks, runs, steps or schedules", kind)
	}
	if need != (len(pos) == 3) {
		return usagef("%s takes %d arguments", kind, map[bool]int{true: 3, false: 2}[need])
	}
	c := connect()
	c.http.Timeout = completionTimeout
	var words []string
	switch kind {
	case "runbooks":
		var list struct{ Runbooks []struct{ Name string } }
		if _, err := c.do("GET", "/api/v1/runbooks", nil, &list); err == nil {
			for _, r := range list.Runbooks {
				words = append(words, r.Name)
			}
		}
	case "runs":
		var list struct{ Runs []struct{ ID string } }
		if _, err := c.do("GET", "/api/v1/runs", nil, &list); err == nil {
			for _, r := range list.Runs {
				words = append(words, r.ID)
			}
		}
	case "steps":
		var run struct{ Steps []struct{ ID string } }
		if _, err := c.do("GET", "/api/v1/runs/"+url.PathEscape(pos[2]), nil, &run); err == nil {
			for _, s := range run.Steps {
				words = append(words, s.ID)
			}
		}
	case "schedules":
		var list struct {
			Schedules []struct{ Runbook, Name string }
		}
		if _, err := c.do("GET", "/api/v1/schedules", nil, &list); err == nil {
			for _, s := range list.Schedules {
				if s.Runbook == pos[2] {
					words = append(words, s.Name)
				}
			}
		}
	}
	seen := map[string]bool{}
	for _, w := range words {
		if strings.HasPrefix(w, prefix) && !seen[w] {
			seen[w] = true
			fmt.Fprintln(out, w)
		}
	}
	return nil
}
