package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opsrunbook/runbook/plan"

	"github.com/labstack/echo/v4"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/workflows"
)

// runView is what the API shows of a run.
type runView struct {
	store.Run
	Params  map[string]any        `json:"params"`
	Outputs map[string]any        `json:"outputs,omitempty"`
	Steps   []workflows.StepState `json:"steps,omitempty"`
	// StepsTotal is the length of the whole timeline; Steps is the page
	// from StepsOffset (query parameters stepsOffset and stepsLimit).
	StepsTotal  int `json:"stepsTotal"`
	StepsOffset int `json:"stepsOffset"`
	// Handovers is how many times the run continued as a new execution.
	Handovers int `json:"handovers,omitempty"`
	// Stale says the timeline is not the run's current one: its worker
	// did not answer within StaleAfter (staleStatus says what it is).
	Stale bool `json:"stale,omitempty"`
	// VersionHash is the hash of the runbook version the run is of.
	VersionHash string `json:"versionHash"`
	// Reruns are the runs that rerun this one, oldest first.
	Reruns []string `json:"reruns,omitempty"`
	// Exceptions are the freezes' break-glass exceptions the run started
	// under (it waits for their approvals first).
	Exceptions []plan.FreezeException `json:"exceptions,omitempty"`
	// Incidents are the incidents the run is linked to.
	Incidents []uint `json:"incidents,omitempty"`
}

// runItem is a run as GET /api/v1/runs lists it: its record, without
// the timeline.
type runItem struct {
	store.Run
	Params      map[string]any `json:"params"`
	Outputs     map[string]any `json:"outputs,omitempty"`
	Handovers   int            `json:"handovers,omitempty"`
	VersionHash string         `json:"versionHash"`
}

// newRunID is a run id (workflows.RunID) with random entropy.
func newRunID(runbook string, now time.Time) string {
	var entropy [10]byte
	_, _ = rand.Read(entropy[:])
	return workflows.RunID(runbook, now, entropy)
}

type startRequest struct {
	Params map[string]any `json:"params"`
	// BreakGlass is why the run must start during a freeze that allows
	// it: the run is then held for the freeze's break-glass approval.
	BreakGlass string `json:"breakGlass"`
	// Incident links the run to an incident (run.incident).
	Incident uint `json:"incident"`
}

// startRun starts a run of a runbook's latest version. The same
// Idempotency-Key gives the same run; a concurrency conflict is 409
// (reject) or the running run (attach).
func (a *API) startRun(c echo.Context) error {
	v, err := a.Store.Runbook(c.Param("name"), 0)
	if err != nil {
		return notFoundOr(err, "no runbook "+c.Param("name"))
	}
	p, err := v.PlanOf()
	if err != nil {
		return err
	}
	user := identity(c).User
	o := origin{trigger: plan.RunTriggerAPI, triggeredBy: user, startedBy: user,
		key: apiKey(p.Name, user, c.Request().Header.Get("Idempotency-Key"))}
	var req startRequest
	err = decodeBody(c, &req, true)
	var params map[string]any
	if err == nil && len(req.BreakGlass) > MaxBreakGlassReason {
		err = problem(http.StatusUnprocessableEntity, fmt.Sprintf("breakGlass is %d bytes; the limit is %d", len(req.BreakGlass), MaxBreakGlassReason))
	}
	o.breakGlass = strings.TrimSpace(req.BreakGlass)
	if err == nil {
		params, err = p.BindParams(req.Params)
		err = paramProblem(err)
	}
	if err == nil && req.Incident != 0 {
		o.incident, err = a.startIncident(req.Incident)
	}
	if err != nil {
		// A freeze comes first: fixing the params would not help.
		if _, ferr := a.freezeGate(p, o, time.Now()); ferr != nil {
			err = ferr
		}
	}
	if err != nil {
		a.refusedStart(c, p.Name, v.Version, o, err)
		return err
	}
	run, status, err := a.start(c, p, v.Version, params, o)
	if err != nil {
		return err
	}
	view := []runView{recordView(run)}
	if status != http.StatusCreated {
		// Just started, nothing has happened that a query would show, and
		// asking the run costs a workflow task (most of a start's time).
		view[0] = a.runView(c, run)
	}
	if run.Version == v.Version {
		view[0].VersionHash = v.Hash
	} else {
		a.withHashes(view)
	}
	return c.JSON(status, view[0])
}

// paramProblem is 422 invalid params, one detail per problem, for a
// plan.ParamError; other errors as they are.
func paramProblem(err error) error {
	var pe *plan.ParamError
	if !errors.As(err, &pe) {
		return err
	}
	details := make([]any, len(pe.Problems))
	for i, d := range pe.Problems {
		details[i] = d
	}
	return problem(http.StatusUnprocessableEntity, "invalid params", details...)
}

// origin is where a start comes from: the trigger, what triggered it, the
// authenticated caller who is its starter, and its scoped idempotency key.
type origin struct {
	trigger                             plan.RunTrigger
	triggeredBy, detail, startedBy, key string
	rerun                               *workflows.Rerun // a rerun of a recorded run
	breakGlass                          string           // why a freeze's break-glass is asked for
	incident                            uint             // the incident it is started for (linked, run.incident)
}

// apiKey scopes an Idempotency-Key header to the runbook and the caller, so
// no caller can claim another's key, another runbook's, or the alert: and
// webhook: keys the triggers make. A blank header is no key.
func apiKey(runbook, user, header string) string {
	header = strings.TrimSpace(header)
	if header == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(runbook + "\x00" + user + "\x00" + header))
	return "api:" + hex.EncodeToString(sum[:])
}

// start records and starts a run: 201 for a new run, 200 for the run an
// idempotency key or an attaching concurrency key already names. A start
// it refuses (4xx) is audited as refused.
func (a *API) start(c echo.Context, p *plan.Plan, version int, params map[string]any, o origin) (_ *store.Run, _ int, err error) {
	defer func() {
		if err != nil {
			a.refusedStart(c, p.Name, version, o, err)
		}
	}()
	if err := capJSON("params", params, MaxParams); err != nil {
		return nil, 0, err
	}
	settings, err := a.runSettings()
	if err != nil {
		return nil, 0, err
	}
	now := time.Now().UTC().Truncate(time.Microsecond)          // what Postgres keeps, so a retried start sends the same time
	exceptions, err := freezeCheck(settings.Freezes, p, o, now) // the freezes the run will get
	if err != nil {
		return nil, 0, err
	}
	run := &store.Run{ID: newRunID(p.Name, now), Runbook: p.Name, Version: version, Status: workflows.RunRunning,
		Trigger: string(o.trigger), TriggerDetail: o.detail, TriggeredBy: o.triggeredBy, StartedBy: o.startedBy, CreatedAt: now}
	if o.key != "" {
		run.IdempotencyKey = &o.key
	}
	if o.rerun != nil {
		run.RerunOf, run.RerunFrom, run.RerunReason = o.rerun.Of, o.rerun.From, o.rerun.Reason
	}
	if len(exceptions) > 0 {
		run.Exceptions, _ = json.Marshal(exceptions)
	}
	if cc := p.Concurrency; cc != nil {
		key, err := concurrencyKey(p, params, run)
		if err != nil {
			return nil, 0, problem(http.StatusUnprocessableEntity, "concurrency.key: "+err.Error())
		}
		run.ConcurrencyKey = key
		existing, err := a.runningWith(c, p.Name, key)
		if err != nil {
			return nil, 0, err
		}
		if conflict := conflict(cc, run, existing); conflict != nil {
			return conflict.run, conflict.status, conflict.err
		}
	}
	created, err := a.Store.CreateRun(run, params)
	if errors.Is(err, store.ErrHeld) {
		// Another start (on any replica) took the key since the check, or
		// a record still holds it for a run that has ended: ask Temporal,
		// which frees stale holds, and try once more.
		existing, werr := a.runningWith(c, p.Name, run.ConcurrencyKey)
		if werr != nil {
			return nil, 0, werr
		}
		if conflict := conflict(p.Concurrency, run, existing); conflict != nil {
			return conflict.run, conflict.status, conflict.err
		}
		if created, err = a.Store.CreateRun(run, params); errors.Is(err, store.ErrHeld) {
			return nil, 0, problem(http.StatusConflict, "a run with the same concurrency key is starting", map[string]string{"run": created.ID, "key": run.ConcurrencyKey})
		}
	}
	status := http.StatusCreated
	if errors.Is(err, store.ErrDuplicate) {
		if err := sameRequest(created, p.Name, params); err != nil {
			return nil, 0, err
		}
		status = http.StatusOK // same Idempotency-Key: the same run, started once
	} else if err != nil {
		return nil, 0, err
	}
	// A retry with the key starts the recorded run as it was recorded,
	// run.startedAt the time its concurrency key was computed with.
	startedAt := created.CreatedAt.UTC()
	in, err := settings.Input(plan.WithExceptions(p, exceptionsOf(created)), created.Version, params, plan.RunTrigger(created.Trigger), created.TriggeredBy, created.StartedBy, &startedAt)
	if err != nil {
		return nil, 0, err
	}
	in.Blackouts = excepted(in.Blackouts, exceptionsOf(created))
	in.Rerun, in.Incident = o.rerun, o.incident
	if status == http.StatusOK {
		_ = json.Unmarshal(created.Params, &in.Params)
	}
	_, err = a.Temporal.ExecuteWorkflow(c.Request().Context(), client.StartWorkflowOptions{
		ID: created.ID, TaskQueue: a.TaskQueue, WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	}, workflows.WorkflowName, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if err != nil && !errors.As(err, &started) {
		return nil, 0, problem(http.StatusServiceUnavailable, "the run is recorded but Temporal did not start it: "+err.Error(), map[string]string{"run": created.ID})
	}
	if status == http.StatusCreated {
		runsStarted.WithLabelValues(p.Name, string(o.trigger)).Inc() // audited with the record
	}
	a.linkIncident(c, o, created.ID)
	return created, status, nil
}

// startConflict is how a start ends when another run holds its key.
type startConflict struct {
	run    *store.Run
	status int
	err    error
}

// conflict decides a start against the run holding its concurrency key:
// none (nil), the same idempotency key (nil: the store answers with that
// run), attach to it, or refuse.
func conflict(cc *plan.Concurrency, run, existing *store.Run) *startConflict {
	if existing == nil || run.IdempotencyKey != nil && existing.IdempotencyKey != nil && *existing.IdempotencyKey == *run.IdempotencyKey {
		return nil
	}
	if cc.OnConflict == plan.ConflictAttach {
		return &startConflict{run: existing, status: http.StatusOK}
	}
	return &startConflict{err: problem(http.StatusConflict, "a run with the same concurrency key is running", map[string]string{"run": existing.ID, "key": run.ConcurrencyKey})}
}

// sameRequest refuses an idempotency key reused for another request, as
// Stripe's API does: the run it names is of another runbook (409), or was
// started with other params (422).
func sameRequest(existing *store.Run, runbook string, params map[string]any) error {
	detail := map[string]string{"run": existing.ID}
	if existing.Runbook != runbook {
		return problem(http.StatusConflict, "the idempotency key names a run of runbook "+existing.Runbook, detail)
	}
	given, err := json.Marshal(params)
	if err != nil {
		return err
	}
	var was, now any
	if json.Unmarshal(existing.Params, &was) != nil || json.Unmarshal(given, &now) != nil || !reflect.DeepEqual(was, now) {
		return problem(http.StatusUnprocessableEntity, "the idempotency key was used with other params", detail)
	}
	return nil
}

func concurrencyKey(p *plan.Plan, params map[string]any, r *store.Run) (string, error) {
	if p.Concurrency.Key == nil {
		return p.Name, nil
	}
	ev, err := plan.NewEvaluator(p)
	if err != nil {
		return "", err
	}
	v, err := ev.Eval(p.Concurrency.Key, plan.Vars{plan.VarParams: p.ParamVars(params), plan.VarRun: runVars(p, r).Value()})
	if err != nil {
		return "", err
	}
	s, _ := v.(string)
	return s, nil
}

// runVars is run as the run's expressions will read it; the workflow
// gets CreatedAt as its startedAt.
func runVars(p *plan.Plan, r *store.Run) plan.RunVars {
	return plan.RunVars{ID: r.ID, Name: p.Name, Version: r.Version, Trigger: plan.RunTrigger(r.Trigger),
		TriggeredBy: r.TriggeredBy, StartedBy: r.StartedBy, StartedAt: r.CreatedAt}
}

// runningWith returns the run holding a concurrency key, checking with
// Temporal that the runs the records call running still run.
func (a *API) runningWith(c echo.Context, runbook, key string) (*store.Run, error) {
	runs, err := a.Store.Running(runbook, key)
	if err != nil {
		return nil, err
	}
	for i := range runs {
		d, err := a.Temporal.DescribeWorkflowExecution(c.Request().Context(), runs[i].ID, "")
		var nf *serviceerror.NotFound
		switch {
		case err == nil && d.WorkflowExecutionInfo.Status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
			return &runs[i], nil
		case err == nil:
			info := d.WorkflowExecutionInfo
			if st, _ := a.closedWithout(c.Request().Context(), runs[i].ID, info); st != nil {
				_ = a.recordEnd(&runs[i], st)
			} else {
				// Ended as Temporal says; a view or the syncer records
				// the rest (its error, outputs and timeline).
				_ = a.endRun(&runs[i], nil, store.RunEnd{Status: closedStatus(info.Status), At: info.GetCloseTime().AsTime().UTC().Truncate(time.Microsecond)}, false)
			}
		case errors.As(err, &nf) && !a.notStarted(&runs[i]):
			return &runs[i], nil // recorded, being started
		}
	}
	return nil, nil
}

// notStarted marks failed a record whose workflow Temporal does not know,
// once it is older than StartGrace: its start died before reaching
// Temporal and no retry came. It says whether it did.
func (a *API) notStarted(r *store.Run) bool {
	if time.Since(r.CreatedAt) < StartGrace {
		return false
	}
	_ = a.endRun(r, nil, store.RunEnd{Status: workflows.RunFailed, ErrorType: "NotStarted", Error: "the run was recorded but Temporal never started it", At: time.Now().UTC()}, false)
	return true
}

// StartGrace is how long a recorded run may take to appear in Temporal
// before the records syncer, or a start that finds it holding its
// concurrency key, calls it failed.
const StartGrace = time.Minute

func closedStatus(s enumspb.WorkflowExecutionStatus) string {
	switch s {
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		return workflows.RunSucceeded
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		return workflows.RunCancelled
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		return workflows.RunRunning
	}
	return workflows.RunFailed
}

// runStatuses are the statuses a run record takes.
var runStatuses = workflows.RunStatuses

// recordView is a run as its record has it.
func recordView(r *store.Run) runView {
	out := runView{Run: *r, Handovers: r.Handovers, Exceptions: exceptionsOf(r)}
	_ = json.Unmarshal(r.Params, &out.Params)
	_ = json.Unmarshal(r.Outputs, &out.Outputs)
	return out
}

// withHashes fills the views' versionHash from the runbook versions.
func (a *API) withHashes(views []runView) {
	runs := make([]store.Run, len(views))
	for i := range views {
		runs[i] = views[i].Run
	}
	hashes, err := a.Store.VersionHashes(runs)
	if err != nil {
		return
	}
	for i := range views {
		views[i].VersionHash = hashes[fmt.Sprintf("%s@%d", views[i].Runbook, views[i].Version)]
	}
}

// runView is a run with a page of its timeline: from the records once the
// run ended and they hold its final timeline, else from Temporal (an ended
// run's timeline is then recorded, so that later views read the records).
func (a *API) runView(c echo.Context, r *store.Run) runView {
	page, _ := stepsPage(c)
	ctx := c.Request().Context()
	switch {
	case workflows.Ended(r.Status) && r.Recorded > 0:
		return a.recordedView(r, page)
	case workflows.Ended(r.Status):
		// Ended before its timeline was recorded (by an older server, or
		// when no worker could answer for it).
		return a.endedView(ctx, r, page)
	}
	out := recordView(r)
	st, stale, err := a.liveStatusPage(ctx, r, page)
	if err != nil {
		return out
	}
	if workflows.Ended(st.Status) { // ended since the records said running
		return a.endedView(ctx, r, page)
	}
	out.Status = st.Status // running or waiting_decision, as the run says now
	out.Steps, out.StepsTotal, out.StepsOffset, out.Handovers, out.Stale = st.Steps, st.StepsTotal, st.StepsOffset, st.Handovers, stale
	return out
}

// endedView records an ended run's end and its whole timeline, once, and
// shows them from the records. When Temporal cannot tell the timeline (a
// closed run no worker answers a query for in time, one Temporal
// terminated or no longer has) the view shows the records as the syncer
// last wrote them, and the next view asks again.
func (a *API) endedView(ctx context.Context, r *store.Run, page workflows.StatusPage) runView {
	st, _, err := a.liveStatus(ctx, r.ID)
	if err == nil && workflows.Ended(st.Status) {
		if a.recordEnd(r, st) == nil {
			if rec, err := a.Store.Run(r.ID); err == nil {
				r = rec
			}
		}
	}
	if r.Recorded > 0 {
		return a.recordedView(r, page)
	}
	out := recordView(r)
	if err == nil && workflows.Ended(st.Status) {
		out.Status, out.Outputs, out.Error, out.ErrorType, out.FailedStep, out.Handovers = st.Status, st.Outputs, st.Error, st.ErrorType, st.FailedStep, st.Handovers
		if st.EndedAt != nil {
			out.EndedAt = st.EndedAt
		}
	}
	seen := a.recordedSteps(r.ID)
	settleSteps(seen)
	part := pageOf(&workflows.Status{Steps: seen}, page)
	out.Steps, out.StepsTotal, out.StepsOffset = part.Steps, len(seen), part.StepsOffset
	return out
}

// recordedView is an ended run with a page of its timeline, all from the
// records.
func (a *API) recordedView(r *store.Run, page workflows.StatusPage) runView {
	out := recordView(r)
	limit := page.Limit
	if limit <= 0 {
		limit = workflows.DefaultStepsLimit
	}
	out.StepsTotal, out.StepsOffset = r.Recorded, min(max(page.Offset, 0), r.Recorded)
	evs, err := a.Store.StepsPage(r.ID, out.StepsOffset, limit)
	if err != nil {
		return out
	}
	out.Steps = make([]workflows.StepState, len(evs))
	for i, e := range evs {
		out.Steps[i] = stepState(e)
	}
	settleSteps(out.Steps)
	return out
}

// recordedSteps is a run's timeline as the records hold it.
func (a *API) recordedSteps(id string) []workflows.StepState {
	evs, err := a.Store.Steps(id)
	if err != nil {
		return nil
	}
	out := make([]workflows.StepState, len(evs))
	for i, e := range evs {
		out[i] = stepState(e)
	}
	return out
}

func (a *API) getRun(c echo.Context) error {
	if _, err := stepsPage(c); err != nil {
		return err
	}
	r, err := a.Store.Run(c.Param("id"))
	if err != nil {
		return notFoundOr(err, "no run "+c.Param("id"))
	}
	views := []runView{a.runView(c, r)}
	a.withHashes(views)
	views[0].Reruns, _ = a.Store.Reruns(r.ID)
	views[0].Incidents, _ = a.Store.IncidentsOfRun(r.ID)
	return c.JSON(http.StatusOK, views[0])
}

// Limits of a page of GET /api/v1/runs.
const (
	DefaultRunsLimit = 50
	MaxRunsLimit     = 500
)

func (a *API) listRuns(c echo.Context) error {
	f := store.RunFilter{Runbook: c.QueryParam("runbook"), Status: c.QueryParam("status"), Trigger: c.QueryParam("trigger"),
		Cursor: c.QueryParam("cursor"), Limit: DefaultRunsLimit}
	if f.Status != "" && !slices.Contains(runStatuses, f.Status) {
		details := make([]any, len(runStatuses))
		for i, s := range runStatuses {
			details[i] = s
		}
		return problem(http.StatusBadRequest, "status must be one of "+strings.Join(runStatuses, ", "), details...)
	}
	if s := c.QueryParam("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxRunsLimit {
			return problem(http.StatusBadRequest, fmt.Sprintf("limit must be a whole number from 1 to %d", MaxRunsLimit), "limit: "+s)
		}
		f.Limit = n
	}
	for _, name := range []string{"since", "until"} {
		dst := map[string]*time.Time{"since": &f.Since, "until": &f.Until}[name]
		if s := c.QueryParam(name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return problem(http.StatusBadRequest, name+" must be an RFC 3339 time, such as 2026-12-01T09:00:00Z", name+": "+s)
			}
			*dst = t.UTC() // SQLite compares times as text: stored times are UTC
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return problem(http.StatusBadRequest, "since must be before until", "since: "+c.QueryParam("since"), "until: "+c.QueryParam("until"))
	}
	runs, next, err := a.Store.Runs(f)
	if err != nil {
		return problem(http.StatusBadRequest, err.Error())
	}
	views := make([]runView, len(runs))
	for i := range runs {
		views[i] = recordView(&runs[i])
	}
	a.withHashes(views)
	items := make([]runItem, len(views))
	for i, v := range views {
		items[i] = runItem{Run: v.Run, Params: v.Params, Outputs: v.Outputs, Handovers: v.Handovers, VersionHash: v.VersionHash}
	}
	return c.JSON(http.StatusOK, map[string]any{"runs": items, "next": next})
}
