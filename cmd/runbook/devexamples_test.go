package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/runbooks"
)

func TestInertExample(t *testing.T) {
	src := `apiVersion: runbook/v1
kind: Runbook
metadata: {name: x}
spec:
  schedules: [{name: nightly, cron: "0 2 * * *"}]
  triggers:
    - alertmanager:
        match: "true"

  steps:
    - {id: a, action: log, with: {message: hi}}
`
	want := `apiVersion: runbook/v1
kind: Runbook
metadata: {name: x}
spec:
  # (left out by runbook dev; --live-examples keeps it)
  # (left out by runbook dev; --live-examples keeps it)
  #
  #
  #
  steps:
    - {id: a, action: log, with: {message: hi}}
`
	got, changed, err := inertExample([]byte(src))
	if err != nil || !changed || string(got) != want {
		t.Fatalf("inert: %v %v\n%s", changed, err, got)
	}
	// Every example stays valid, keeps its line numbers, and loses every
	// trigger and schedule.
	files, _ := filepath.Glob("../../examples/*.yaml")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out, _, err := inertExample(b)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(string(out), "\n") != strings.Count(string(b), "\n") {
			t.Errorf("%s: line count changed", f)
		}
		srcs := []runbooks.Source{{File: f, Data: out}}
		for _, g := range files {
			if g != f {
				d, _ := os.ReadFile(g)
				srcs = append(srcs, runbooks.Source{File: g, Data: d})
			}
		}
		res := runbooks.BuildSet(srcs, runbooks.Options{Actions: activities.Catalog()})[0]
		if res.Plan == nil {
			t.Errorf("%s inert does not build: %v", f, res.Diagnostics)
			continue
		}
		if len(res.Plan.Triggers) != 0 || len(res.Plan.Schedules) != 0 {
			t.Errorf("%s inert keeps %d triggers and %d schedules", f, len(res.Plan.Triggers), len(res.Plan.Schedules))
		}
	}
}
