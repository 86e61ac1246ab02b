package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/opsrunbook/runbook/plan"

	"github.com/opsrunbook/runbook/runbooks"
	"github.com/opsrunbook/runbook/web"
	"github.com/opsrunbook/runbook/workflows"
)

// runApply registers runbook files with the API, children before parents.
func runApply(args []string, out, errOut io.Writer) error {
	fs := flags("apply", errOut)
	connect := clientFlags(fs)
	paths, err := interleaved(fs, args)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return usagef("name at least one file or directory")
	}
	srcs, err := runbooks.ReadSources(paths...)
	if err != nil {
		return err
	}
	c := connect()
	pending := srcs
	for len(pending) > 0 {
		var retry []runbooks.Source
		var lastErr error
		for _, s := range pending {
			if runbooks.DocumentKind(s.Data) == runbooks.KindFreeze {
				var f struct {
					Name     string                `json:"name"`
					Created  bool                  `json:"created"`
					Changed  bool                  `json:"changed"`
					Warnings []runbooks.Diagnostic `json:"warnings"`
				}
				if _, err := c.do("POST", "/api/v1/freezes", s.Data, &f); err != nil {
					return fmt.Errorf("%s: %w", s.File, err) // freezes need no order
				}
				state := map[bool]string{true: "replaced", false: "unchanged"}[f.Changed]
				if f.Created {
					state = "registered"
				}
				for _, w := range f.Warnings {
					w.File = s.File
					fmt.Fprintln(errOut, w)
				}
				fmt.Fprintf(out, "%s: freeze %s %s\n", s.File, f.Name, state)
				continue
			}
			var v struct {
				Name    string `json:"name"`
				Version int    `json:"version"`
				Created bool   `json:"created"`
			}
			if _, err := c.do("POST", "/api/v1/runbooks", s.Data, &v); err != nil {
				retry, lastErr = append(retry, s), fmt.Errorf("%s: %w", s.File, err)
				continue
			}
			state := "unchanged"
			if v.Created {
				state = "registered"
			}
			fmt.Fprintf(out, "%s: %s v%d %s\n", s.File, v.Name, v.Version, state)
		}
		if len(retry) == len(pending) { // no progress: a real error, not an order problem
			return lastErr
		}
		pending = retry
	}
	return nil
}

func startBody(params map[string]any, breakGlass string) map[string]any {
	body := map[string]any{"params": params}
	if breakGlass != "" {
		body["breakGlass"] = breakGlass
	}
	return body
}

// runRun starts a run of a registered runbook; with --follow it prints the
// steps as they go and exits 1 unless the run succeeds.
func runRun(args []string, out, errOut io.Writer) error {
	fs := flags("run", errOut)
	connect := clientFlags(fs)
	follow := fs.Bool("follow", false, "print step transitions until the run ends; exit 1 unless it succeeds")
	key := fs.String("idempotency-key", "", "the same key starts the same run once")
	quiet := fs.Bool("q", false, "print only the run id")
	breakGlass := fs.String("break-glass", "", "start during a freeze that allows break-glass, for this reason: the run waits for the freeze's break-glass approval first")
	incident := fs.Uint("incident", 0, "link the run to this incident (run.incident); the first run linked acknowledges it")
	var params pairFlag
	fs.Var(&params, "p", "param as name=value (repeatable)")
	names, err := interleaved(fs, args)
	if err != nil {
		return err
	}
	if len(names) != 1 {
		return usagef("name exactly one runbook")
	}
	c := connect()
	var rb struct {
		Plan *plan.Plan `json:"plan"`
	}
	if _, err := c.do("GET", "/api/v1/runbooks/"+url.PathEscape(names[0]), nil, &rb); err != nil {
		return err
	}
	given, err := parseParams(rb.Plan, params)
	if err != nil {
		return err
	}
	var run struct {
		ID      string `json:"id"`
		Runbook string `json:"runbook"`
		Status  string `json:"status"`
	}
	var header []string
	if *key != "" {
		header = []string{"Idempotency-Key", *key}
	}
	body := startBody(given, *breakGlass)
	if *incident != 0 {
		body["incident"] = *incident
	}
	if _, err := c.do("POST", "/api/v1/runbooks/"+url.PathEscape(names[0])+"/runs", body, &run, header...); err != nil {
		return err
	}
	if run.Runbook != names[0] {
		// Never follow or print a run the caller did not ask for.
		return fmt.Errorf("the API answered with run %s of runbook %q, not of %q", run.ID, run.Runbook, names[0])
	}
	if *quiet {
		fmt.Fprintln(out, run.ID)
	} else {
		fmt.Fprintf(out, "run %s started\n", run.ID)
	}
	if !*follow {
		return nil
	}
	status, err := c.follow(run.ID, out)
	if err != nil {
		return err
	}
	if status != "succeeded" {
		return &exitError{code: 1}
	}
	return nil
}

// runFollow prints a run's steps until it ends (a run started by a
// schedule, an alert or someone else); exit 1 unless it succeeds.
func runFollow(args []string, out, errOut io.Writer) error {
	fs := flags("follow", errOut)
	connect := clientFlags(fs)
	pos, err := interleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("name exactly one run")
	}
	status, err := connect().follow(pos[0], out)
	if err != nil {
		return err
	}
	if status != workflows.RunSucceeded {
		return &exitError{code: 1}
	}
	return nil
}

// runApprovals lists the approvals that runs wait for.
func runApprovals(args []string, out, errOut io.Writer) error {
	fs := flags("approvals", errOut)
	connect := clientFlags(fs)
	mine := fs.Bool("mine", false, "only those the token's user may vote on")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	path := "/api/v1/approvals"
	if *mine {
		path += "?mine=true"
	}
	var list struct {
		Approvals []struct {
			Run, Runbook, Step, Message, Kind, Error string
			Parent                                   string `json:"parentRun"`
			Item                                     *int
			Approvers, Deciders                      []string
			Votes, Needed                            int
			Quorum                                   []workflows.QuorumState
		} `json:"approvals"`
	}
	cl := connect()
	if _, err := cl.do("GET", path, nil, &list); err != nil {
		return err
	}
	// The console's pages: at RUNBOOK_PUBLIC_URL, else where the API is.
	base := or(strings.TrimRight(os.Getenv("RUNBOOK_PUBLIC_URL"), "/"), cl.addr)
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tSTEP\tVOTES\tAPPROVERS\tMESSAGE\tLINK")
	for _, a := range list.Approvals {
		if a.Kind == "decision" { // a failed step waiting for retry, skip or fail
			fmt.Fprintf(tw, "%s\t%s\tdecision\t%s\tfailed: %s\t%s\n", a.Run, a.Step, or(strings.Join(a.Deciders, ","), "operators"), a.Error,
				web.RunLink(base, or(a.Parent, a.Run)))
			continue
		}
		approvers := strings.Join(a.Approvers, ",")
		if len(a.Quorum) > 0 {
			approvers = quorumText(a.Quorum)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d of %d\t%s\t%s\t%s\n", a.Run, a.Step, a.Votes, a.Needed, approvers, a.Message,
			web.ApprovalLink(base, or(a.Parent, a.Run), a.Step, a.Item))
	}
	return tw.Flush()
}

// quorumText says what each group of a quorum has given: sre 1/1 (sue), dba 0/1.
func quorumText(q []workflows.QuorumState) string {
	parts := make([]string, len(q))
	for i, g := range q {
		parts[i] = fmt.Sprintf("%s %d/%d", g.Group, len(g.Voters), g.Min)
		if len(g.Voters) > 0 {
			parts[i] += " (" + strings.Join(g.Voters, ", ") + ")"
		}
	}
	return strings.Join(parts, ", ")
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// parseParams reads -p name=value pairs by the plan's declared types, one
// at a time so that a value that does not parse is named in words.
func parseParams(p *plan.Plan, args []string) (map[string]any, error) {
	out := map[string]any{}
	for _, a := range args {
		v, err := p.ParseParamArgs([]string{a})
		var ne *strconv.NumError
		if errors.As(err, &ne) {
			name, _, _ := strings.Cut(a, "=")
			what := map[string]string{"ParseInt": "an integer", "ParseFloat": "a number", "ParseBool": "true or false"}[ne.Func]
			if what == "" {
				what = "of the param's type"
			}
			if errors.Is(ne.Err, strconv.ErrRange) {
				return nil, fmt.Errorf("param %q: %q is out of range for %s", name, ne.Num, what)
			}
			return nil, fmt.Errorf("param %q: %q is not %s", name, ne.Num, what)
		}
		if err != nil {
			return nil, err
		}
		maps.Copy(out, v)
	}
	return out, nil
}
