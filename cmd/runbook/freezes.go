package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/opsrunbook/runbook/plan"
)

// freezeRow is a freeze as GET /api/v1/freezes lists it.
type freezeRow struct {
	Name   string          `json:"name"`
	Reason string          `json:"reason"`
	Active bool            `json:"active"`
	Until  *time.Time      `json:"until"`
	Next   []plan.Interval `json:"next"`
	Holds  []string        `json:"holds"`
	Break  *struct {
		Approvers []string `json:"approvers"`
	} `json:"breakGlass"`
}

// runFreezes lists the freezes (what they hold back, now and next), or
// lifts one.
func runFreezes(args []string, out, errOut io.Writer) error {
	fs := flags("freezes", errOut)
	connect := clientFlags(fs)
	asJSON := fs.Bool("json", false, "print {freezes: [...]} as GET /api/v1/freezes answers")
	runbook := fs.String("runbook", "", "only the freezes that hold this runbook back")
	pos, err := interleaved(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0 && pos[0] == "delete" && len(pos) != 2:
		return usagef("freezes delete takes one freeze name")
	case len(pos) == 2 && pos[0] == "delete":
		if _, err := connect().do("DELETE", "/api/v1/freezes/"+url.PathEscape(pos[1]), nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(out, "freeze %s lifted\n", pos[1])
		return nil
	case len(pos) > 1 || (len(pos) == 1 && pos[0] != "list"):
		return usagef("freezes [list] takes no other arguments; freezes delete NAME lifts one")
	}
	path := "/api/v1/freezes"
	if *runbook != "" {
		path += "?runbook=" + url.QueryEscape(*runbook)
	}
	var raw json.RawMessage
	if _, err := connect().do("GET", path, nil, &raw); err != nil {
		return err
	}
	if *asJSON {
		_, err := fmt.Fprintf(out, "%s\n", raw)
		return err
	}
	var list struct {
		Freezes []freezeRow `json:"freezes"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tNEXT WINDOW\tHOLDS BACK\tBREAK-GLASS\tREASON")
	for _, f := range list.Freezes {
		state := "inactive"
		if f.Active && f.Until != nil {
			state = "ACTIVE until " + f.Until.UTC().Format(time.RFC3339)
		}
		next := "-"
		if len(f.Next) > 0 {
			next = f.Next[0].From.UTC().Format(time.RFC3339) + " to " + f.Next[0].To.UTC().Format(time.RFC3339)
		}
		glass := "-"
		if f.Break != nil {
			glass = strings.Join(f.Break.Approvers, ",")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", f.Name, state, next, or(strings.Join(f.Holds, ","), "-"), glass, f.Reason)
	}
	return tw.Flush()
}
