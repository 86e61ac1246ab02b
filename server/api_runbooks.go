package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/opsrunbook/runbook/plan"

	"github.com/labstack/echo/v4"

	"github.com/opsrunbook/runbook/diff"
	"github.com/opsrunbook/runbook/runbooks"
	"github.com/opsrunbook/runbook/store"
)

// runbookView is what the API shows of a runbook version.
type runbookView struct {
	Name      string               `json:"name"`
	Version   int                  `json:"version"`
	Hash      string               `json:"hash"`
	Title     string               `json:"title,omitempty"`
	Author    string               `json:"author"`
	CreatedAt string               `json:"createdAt"`
	Created   *bool                `json:"created,omitempty"`
	Warnings  runbooks.Diagnostics `json:"warnings,omitempty"`
	YAML      string               `json:"yaml,omitempty"`
	Plan      *plan.Plan           `json:"plan,omitempty"`
}

func view(v *store.RunbookVersion) runbookView {
	return runbookView{Name: v.Name, Version: v.Version, Hash: v.Hash, Title: v.Title, Author: v.Author, CreatedAt: v.CreatedAt.UTC().Format("2006-01-02T15:04:05Z")}
}

// registerRunbook compiles a YAML body and records it: 422 with every
// problem when it is invalid; a new version only when the content changed.
func (a *API) registerRunbook(c echo.Context) error {
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return problem(http.StatusBadRequest, "reading the body: "+err.Error())
	}
	v, created, diags, err := a.Register(c.Request().Context(), body, identity(c).User)
	if err != nil {
		return err
	}
	out := view(v)
	out.Created, out.Warnings = &created, diags.Warnings()
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return c.JSON(status, out)
}

// Register compiles and records a runbook, resolving sub-runbooks among
// the registered ones, and reconciles its schedules. An invalid runbook is
// a 422 problem listing every diagnostic.
func (a *API) Register(ctx context.Context, yaml []byte, author string) (*store.RunbookVersion, bool, runbooks.Diagnostics, error) {
	opts := runbooks.Options{Actions: a.Catalog, Runbooks: func(name string) (*plan.Plan, bool) {
		v, err := a.Store.Runbook(name, 0)
		if err != nil {
			return nil, false
		}
		p, err := v.PlanOf()
		return p, err == nil
	}, RunbookNames: func() []string {
		names, _ := a.Store.RunbookNames() // without them, no "did you mean"
		return names
	}}
	p, diags, err := runbooks.Build("runbook.yaml", yaml, opts)
	if err == nil {
		doc, _ := runbooks.Parse("runbook.yaml", yaml)
		if cyc := cycles("runbook.yaml", doc, opts.Runbooks); len(cyc) > 0 {
			diags, err = append(diags, cyc...), errCycle
			diags.Sort()
		}
	}
	var internal *runbooks.InternalError
	if errors.As(err, &internal) {
		return nil, false, diags, err // our bug, not the runbook's: a 500
	}
	if err != nil {
		details := make([]any, 0, len(diags))
		for _, d := range diags {
			details = append(details, d)
		}
		return nil, false, diags, problem(http.StatusUnprocessableEntity, "the runbook is invalid", details...)
	}
	if err := checkPlan(p); err != nil {
		return nil, false, diags, err
	}
	var previous []string
	if prev, err := a.Store.Runbook(p.Name, 0); err == nil {
		if pp, err := prev.PlanOf(); err == nil {
			for _, s := range pp.Schedules {
				previous = append(previous, s.Name)
			}
		}
	}
	v, created, err := a.Store.SaveRunbook(string(yaml), p, author)
	if err != nil {
		return nil, false, diags, err
	}
	if created && a.Scheduler != nil {
		settings, err := a.runSettings()
		if err == nil {
			err = a.Scheduler.Reconcile(ctx, p, v.Version, settings, previous)
		}
		if err != nil {
			return nil, false, diags, problem(http.StatusServiceUnavailable, "the runbook is saved but its schedules are not: "+err.Error())
		}
	}
	if created {
		if err := a.Store.Append(store.AuditRecord{Actor: author, Action: store.ActionRunbookRegister, Target: p.Name + " v" + strconv.Itoa(v.Version),
			Runbook: p.Name, Detail: store.RegisterDetail{Version: v.Version, Hash: v.Hash}}); err != nil {
			return nil, false, diags, err
		}
	}
	return v, created, diags, nil
}

var errCycle = errors.New("sub-runbooks run each other in a cycle")

func (a *API) listRunbooks(c echo.Context) error {
	vs, err := a.Store.Runbooks()
	if err != nil {
		return err
	}
	out := make([]runbookView, 0, len(vs))
	for i := range vs {
		out = append(out, view(&vs[i]))
	}
	return c.JSON(http.StatusOK, map[string]any{"runbooks": out})
}

func (a *API) getRunbook(c echo.Context) error {
	version := 0
	if q := c.QueryParam("version"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 1 {
			return problem(http.StatusBadRequest, "version must be a positive integer")
		}
		version = n
	}
	v, err := a.Store.Runbook(c.Param("name"), version)
	if err != nil {
		return notFoundOr(err, "no runbook "+c.Param("name"))
	}
	p, err := v.PlanOf()
	if err != nil {
		return err
	}
	out := view(v)
	out.YAML, out.Plan = v.YAML, p
	return c.JSON(http.StatusOK, out)
}

func (a *API) runbookVersions(c echo.Context) error {
	vs, err := a.Store.Versions(c.Param("name"))
	if err != nil {
		return err
	}
	if len(vs) == 0 {
		return problem(http.StatusNotFound, "no runbook "+c.Param("name"))
	}
	out := make([]runbookView, 0, len(vs))
	for i := range vs {
		out = append(out, view(&vs[i]))
	}
	return c.JSON(http.StatusOK, map[string]any{"versions": out})
}

func notFoundOr(err error, message string) error {
	if err == store.ErrNotFound {
		return problem(http.StatusNotFound, message)
	}
	return err
}

// runbookDiff compares two versions of a runbook: ?from=V1&to=V2, by
// default the latest and the version before it.
func (a *API) runbookDiff(c echo.Context) error {
	name := c.Param("name")
	latest, err := a.Store.Runbook(name, 0)
	if err != nil {
		return notFoundOr(err, "no runbook "+name)
	}
	versions := map[string]int{"to": latest.Version}
	for _, q := range []string{"to", "from"} {
		if s := c.QueryParam(q); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				return problem(http.StatusBadRequest, q+" must be a version number, 1 or more", "got "+strconv.Quote(s))
			}
			versions[q] = n
		} else if q == "from" {
			versions[q] = versions["to"] - 1
		}
	}
	if versions["from"] < 1 {
		return problem(http.StatusNotFound, fmt.Sprintf("runbook %s has no version before v%d to compare it with", name, versions["to"]))
	}
	var vs [2]*store.RunbookVersion
	var ps [2]*plan.Plan
	for i, q := range []string{"from", "to"} {
		v, err := a.Store.Runbook(name, versions[q])
		if err != nil {
			return notFoundOr(err, fmt.Sprintf("runbook %s has no version %d (the latest is v%d)", name, versions[q], latest.Version))
		}
		if ps[i], err = v.PlanOf(); err != nil {
			return err
		}
		vs[i] = v
	}
	changes, err := diff.Plans(ps[0], ps[1])
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, diffView{Runbook: name, From: vs[0].Version, To: vs[1].Version, FromHash: vs[0].Hash, ToHash: vs[1].Hash,
		Unified: diff.Unified(fmt.Sprintf("%s v%d", name, vs[0].Version), fmt.Sprintf("%s v%d", name, vs[1].Version), vs[0].YAML, vs[1].YAML),
		Changes: changes})
}

// diffQuery documents the diff route's query parameters.
var diffQuery = []any{
	map[string]any{"name": "from", "in": "query", "schema": map[string]any{"type": "integer", "minimum": 1},
		"description": "The version to compare from (default: the one before to)."},
	map[string]any{"name": "to", "in": "query", "schema": map[string]any{"type": "integer", "minimum": 1},
		"description": "The version to compare to (default: the latest)."},
}

// diffView is what GET /api/v1/runbooks/:name/diff answers.
type diffView struct {
	Runbook  string       `json:"runbook"`
	From     int          `json:"from"`
	To       int          `json:"to"`
	FromHash string       `json:"fromHash"`
	ToHash   string       `json:"toHash"`
	Unified  string       `json:"unified"` // "" when the sources are equal
	Changes  diff.Changes `json:"changes"`
}
