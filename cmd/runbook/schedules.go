package main

import (
	"fmt"
	"io"
	"net/url"
	"text/tabwriter"
	"time"
)

// runSchedules lists the schedules of the registered runbooks, or pauses,
// unpauses or fires one of them.
func runSchedules(args []string, out, errOut io.Writer) error {
	fs := flags("schedules", errOut)
	connect := clientFlags(fs)
	pos, err := interleaved(fs, args)
	if err != nil {
		return err
	}
	sub := "list"
	if len(pos) > 0 {
		sub, pos = pos[0], pos[1:]
	}
	switch sub {
	case "list":
		if len(pos) > 0 {
			return usagef("unexpected argument %q", pos[0])
		}
		return listSchedules(connect(), out)
	case "pause", "unpause", "trigger":
		if len(pos) != 2 {
			return usagef("schedules %s names a runbook and one of its schedules", sub)
		}
	default:
		return usagef("unknown subcommand %q: want list, pause, unpause or trigger", sub)
	}
	var res struct {
		Run string `json:"run"`
	}
	path := "/api/v1/runbooks/" + url.PathEscape(pos[0]) + "/schedules/" + url.PathEscape(pos[1]) + "/" + sub
	if _, err := connect().do("POST", path, nil, &res); err != nil {
		return err
	}
	switch sub {
	case "trigger":
		fmt.Fprintf(out, "schedule %s of %s fired: run %s started\n", pos[1], pos[0], res.Run)
	default:
		fmt.Fprintf(out, "schedule %s of %s %sd\n", pos[1], pos[0], sub)
	}
	return nil
}

func listSchedules(c *apiClient, out io.Writer) error {
	var list struct {
		Schedules []struct {
			Runbook, Name, Cron, Timezone, Overlap string
			Paused                                 bool
			Next                                   []time.Time
		} `json:"schedules"`
	}
	if _, err := c.do("GET", "/api/v1/schedules", nil, &list); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUNBOOK\tSCHEDULE\tCRON\tTIMEZONE\tPAUSED\tNEXT")
	for _, s := range list.Schedules {
		// The list says what the runbook declares; whether the schedule
		// is paused now (schedules pause) only its own answer says.
		var live struct {
			Paused bool `json:"paused"`
		}
		if _, err := c.do("GET", "/api/v1/runbooks/"+url.PathEscape(s.Runbook)+"/schedules/"+url.PathEscape(s.Name), nil, &live); err == nil {
			s.Paused = live.Paused
		}
		next := "-"
		if len(s.Next) > 0 {
			next = s.Next[0].Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\t%s\n", s.Runbook, s.Name, s.Cron, or(s.Timezone, "UTC"), s.Paused, next)
	}
	return tw.Flush()
}
