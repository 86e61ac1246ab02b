package server

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opsrunbook/runbook/plan"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/attest"
	"github.com/opsrunbook/runbook/runbooks"
	"github.com/opsrunbook/runbook/store"
)

// Limits of the API.
const (
	MaxBody        = runbooks.MaxSourceSize
	RequestTimeout = 30 * time.Second
	// DefaultWebhookReadTimeout is how long the unauthenticated webhook
	// route waits for a body.
	DefaultWebhookReadTimeout = 10 * time.Second
)

// API is the engine's HTTP API under /api/v1.
type API struct {
	Store     *store.Store
	Temporal  client.Client
	TaskQueue string
	Catalog   plan.Catalog
	Secrets   activities.SecretSource // for webhook signatures
	Scheduler *Scheduler
	// VoteKey seals votes and events; nil: a key kept in the records.
	VoteKey ed25519.PrivateKey
	// Streams bounds event streams; zero: the defaults.
	Streams StreamLimits
	// WebhookReadTimeout bounds reading a webhook's body; zero:
	// DefaultWebhookReadTimeout.
	WebhookReadTimeout time.Duration
	// HistoryBudget is the history length after which a run's long loop
	// hands over to a new execution (0: workflows.DefaultHistoryBudget).
	HistoryBudget int
	// QueryTimeout bounds each status query (0: DefaultQueryTimeout).
	QueryTimeout time.Duration
	// Codec, when set, serves /codec/encode and /codec/decode (the same
	// codec the API's Temporal client encrypts with); CodecOrigin is the
	// Temporal Web UI origin allowed to call them from a browser.
	Codec       converter.PayloadCodec
	CodecOrigin string
	// IncidentLabels maps alert groups to incidents' title, severity and
	// service (RUNBOOK_INCIDENT_LABELS); zero: DefaultIncidentLabels.
	IncidentLabels IncidentLabels

	statuses   sync.Map // run id -> cachedStatus, for running runs
	refreshing sync.Map // run id -> *flight while its status is read behind a read
	// closedPages keeps pages of closed runs' timelines (closedPage ->
	// *workflows.Status), closedCount how many.
	closedPages sync.Map
	closedCount atomic.Int64
	synced      sync.Map     // run id -> history length last written to the records
	launched    sync.Map     // a schedule fire's run id (Temporal's) -> the id of the run it started
	refreshed   atomic.Value // time.Time of the last refreshSchedules
	voteSigner  atomic.Pointer[attest.Signer]
	streams     streamSlots
	plans       planCache
	approvals   approvalsCache // the last read of the records' waiting entries
}

// Problem is every error answer: {error, details[]}.
type Problem struct {
	Error   string `json:"error"`
	Details []any  `json:"details"`
}

// apiError is an error with its status and details.
type apiError struct {
	status  int
	message string
	details []any
}

func (e *apiError) Error() string { return e.message }

func problem(status int, message string, details ...any) error {
	if details == nil {
		details = []any{}
	}
	return &apiError{status: status, message: message, details: details}
}

// route is one endpoint: the routing table, the role checks and the
// OpenAPI document are all built from it.
type route struct {
	method, path string
	role         string // "" for no token (health, signed webhooks)
	summary      string
	handler      func(a *API) echo.HandlerFunc
}

// routeTable lists every endpoint. Paths use Echo's :param form.
func routeTable() []route {
	return []route{
		{"GET", "/healthz", "", "Liveness", func(a *API) echo.HandlerFunc { return health }},
		{"GET", "/readyz", "", "Readiness: the database and Temporal answer", func(a *API) echo.HandlerFunc { return a.ready }},
		{"GET", "/metrics", "", "Prometheus metrics", func(a *API) echo.HandlerFunc { return a.metricsHandler }},
		{"GET", "/openapi.json", "", "This API's OpenAPI 3 document", func(a *API) echo.HandlerFunc { return openAPIHandler }},
		{"POST", "/api/v1/runbooks", "author", "Register a runbook (YAML body); 422 lists every problem", func(a *API) echo.HandlerFunc { return a.registerRunbook }},
		{"GET", "/api/v1/runbooks", "viewer", "List runbooks (latest versions)", func(a *API) echo.HandlerFunc { return a.listRunbooks }},
		{"GET", "/api/v1/runbooks/:name", "viewer", "Get a runbook with its plan (?version=N)", func(a *API) echo.HandlerFunc { return a.getRunbook }},
		{"GET", "/api/v1/runbooks/:name/versions", "viewer", "List a runbook's versions", func(a *API) echo.HandlerFunc { return a.runbookVersions }},
		{"GET", "/api/v1/runbooks/:name/diff", "viewer", "Compare two versions (?from=V1&to=V2; default: the version before the latest, and the latest): {runbook, from, to, fromHash, toHash, unified (the YAML sources as a unified diff with 3 lines of context; \"\" when equal), changes: {steps and params: {added, removed, changed: [{name, fields}]}, fields: the plan's other changed fields}}; 404 for a version that does not exist", func(a *API) echo.HandlerFunc { return a.runbookDiff }},
		{"POST", "/api/v1/runbooks/:name/plan", "viewer", "Preview a start, as `runbook plan` does ({params, version}: version 0 or none is the latest): {version, runbook, params[{name, value, source: given|default|not given…, missing}], vars (when it has any), steps[{id, kind, section: steps|onFailure|finally, depth, summary, decision: run|skip|decided at run time, reason, inputs[{name, value}]}], schedules (when it has any), freezes: the registered freezes that hold the runbook back now or in a window opening within 30 days [{name, reason, active, from, to, breakGlass}]}; inputs render as far as the params tell (a secret is never shown); 422 for params that do not bind, one problem per detail", func(a *API) echo.HandlerFunc { return a.previewRunbook }},
		{"POST", "/api/v1/runbooks/:name/runs", "operator", "Start a run ({params, breakGlass, incident}: incident, an incident's id, links the run to it (run.incident; the first run linked to an open incident acknowledges it), 422 for no such incident; Idempotency-Key header, scoped to the runbook and the caller: the same key with other params is 422). While a freeze holds the runbook back (GET /api/v1/freezes), the start is 409 naming the freeze, its end and reason (details: {freeze, until, reason, breakGlass}); when the freeze allows break-glass, a start with breakGlass (why, at most 1024 bytes) is taken and the run waits first at an approval step freeze-FREEZE by the freeze's breakGlass approvers (the starter may not approve it); breakGlass when no freeze holds the runbook back is 422", func(a *API) echo.HandlerFunc { return a.startRun }},
		{"GET", "/api/v1/runbooks/:name/schedules/:schedule", "viewer", "Get a schedule with its next fire times", func(a *API) echo.HandlerFunc { return a.getSchedule }},
		{"POST", "/api/v1/runbooks/:name/schedules/:schedule/pause", "operator", "Pause a schedule", func(a *API) echo.HandlerFunc { return a.scheduleAction("pause") }},
		{"POST", "/api/v1/runbooks/:name/schedules/:schedule/unpause", "operator", "Unpause a schedule", func(a *API) echo.HandlerFunc { return a.scheduleAction("unpause") }},
		{"POST", "/api/v1/runbooks/:name/schedules/:schedule/trigger", "operator", "Start a run with the schedule's params now, as the caller (202 {schedule, action, run}; the runbook's concurrency applies)", func(a *API) echo.HandlerFunc { return a.scheduleAction("trigger") }},
		{"POST", "/api/v1/freezes", "author", "Register a change freeze, or replace the one of the same name (kind: Freeze YAML body; 201 new, 200 replaced or unchanged: the freeze as GET /api/v1/freezes/:name shows it, with created, changed and warnings such as overlapping windows; 422 lists every problem with line:col, YAML syntax errors included); every schedule then gets the new windows; audited as freeze.register unless the source is unchanged", func(a *API) echo.HandlerFunc { return a.registerFreeze }},
		{"GET", "/api/v1/freezes", "viewer", "List the freezes: {freezes: [{name, description, reason, timezone, windows, runbooks, exempt, breakGlass, author, updatedAt, active, until (the end of the open window, merged with those that follow it), next (the next 3 windows [{from, to}]), holds (the registered runbooks it holds back)}]} (?runbook=NAME: those that hold NAME back)", func(a *API) echo.HandlerFunc { return a.listFreezes }},
		{"GET", "/api/v1/freezes/:name", "viewer", "Get a freeze, as the list shows it; 404 for an unknown one", func(a *API) echo.HandlerFunc { return a.getFreeze }},
		{"DELETE", "/api/v1/freezes/:name", "author", "Lift a freeze: starts it held back are taken again, and every schedule loses its windows; 404 for an unknown one; audited as freeze.delete", func(a *API) echo.HandlerFunc { return a.deleteFreeze }},
		{"GET", "/api/v1/schedules", "viewer", "List every schedule of the latest runbook versions: runbook, name, cron, timezone, overlap, paused (as Temporal has it now: a pause through the API shows at once), next (the next 3 fires), recentRuns", func(a *API) echo.HandlerFunc { return a.listSchedules }},
		{"GET", "/api/v1/runs", "viewer", "List runs, newest first: records with params, outputs, error, errorType, failedStep and versionHash, no timeline (runbook; status: running (which lists the runs waiting for a decision too), waiting_decision, succeeded, failed or cancelled, else 400 with the valid statuses as details; trigger; since and until: RFC 3339 times the run started at or after and before, else 400; limit: 1 to 500, default 50, else 400; cursor: the previous page's next)", func(a *API) echo.HandlerFunc { return a.listRuns }},
		{"GET", "/api/v1/runs/:id", "viewer", "Get a run (params, trigger, triggeredBy, startedBy, versionHash, outputs, error, errorType, failedStep, incidents: the ids of the incidents it is linked to) with a page of its step timeline; an ended run is read from the records", func(a *API) echo.HandlerFunc { return a.getRun }},
		{"GET", "/api/v1/runs/:id/plan", "viewer", "What is left of a running run, previewed from its state: {run, stale (true when the timeline is not the current one: its worker did not answer in time), runbook, params, vars, steps}, as POST /api/v1/runbooks/:name/plan answers (each param's source: the run's), where a step that ended has decision done (reason: its status) and the others render their inputs with the outputs of the steps that ended and the vars the run's set steps gave; 409 once the run has ended", func(a *API) echo.HandlerFunc { return a.previewRun }},
		{"GET", "/api/v1/runs/:id/events", "viewer", "Follow a run: server-sent step events (the timeline entry, and at: when the transition happened, the workflow's time) in the order they happened, the lines steps print (event: line, as the logs routes show them), then one run event when it ends", func(a *API) echo.HandlerFunc { return a.streamEvents }},
		{"GET", "/api/v1/runs/:id/report", "viewer", "The evidence of a run that has ended, for an auditor: {run, runbook, title, version, versionHash (sha256 of the version's source), status, error, errorType, failedStep, trigger, triggeredBy, startedBy, rerunOf, startedAt, endedAt, durationSeconds, params, outputs, approvals[{step, item, status, votes}], decisions[{step, item, decisions}], steps[{id, item, phase, status, startedAt, endedAt, seconds, attempts, error, errorType}] (at most 2000; stepsOmitted counts the rest)}; format=markdown answers the same as a Markdown document (text/markdown); 409 while the run is still running", func(a *API) echo.HandlerFunc { return a.getReport }},
		{"GET", "/api/v1/runs/:id/logs", "viewer", "The lines every step of the run printed (stdout, stderr, log steps), secrets masked, in seq order: {runId, lines[{seq, at, step, item, attempt, stream, text}], next, ended, elided[{step, item, attempt, lines, bytes}]} (since, limit, tail, follow=true for server-sent events); 404 for an unknown run", func(a *API) echo.HandlerFunc { return a.getLogs }},
		{"GET", "/api/v1/runs/:id/steps/:step/logs", "viewer", "The lines one step printed, as GET /api/v1/runs/:id/logs answers them; :step is an id or id[item] for one forEach item (or ?item=N); 404 for a step the run's runbook version does not have", func(a *API) echo.HandlerFunc { return a.getLogs }},
		{"POST", "/api/v1/runs/:id/cancel", "operator", "Cancel a running run ({reason}, optional, at most 1024 bytes: 422 past it), audited with the reason; a run that has ended is 409 (run RUN has already ended: STATUS), audited as refused", func(a *API) echo.HandlerFunc { return a.cancelRun }},
		{"POST", "/api/v1/runs/:id/rerun", "operator", "Rerun a run that has ended as a new run linked to it ({from, version: same|latest, params, reason}): without from, from the top with the same version and params (params given override them); with from (STEP or STEP[ITEM]), the steps before it are not run again, their recorded results are reused (status reused), and approvals before it carry over unless the version or params changed. 201 with the new run (rerunOf, rerunFrom, rerunReason) and reused, runAgain, notRun, warnings; 409 for a run still running; 422 for a step it cannot resume from, with every problem in details; audited as run.rerun", func(a *API) echo.HandlerFunc { return a.rerunRun }},
		{"POST", "/api/v1/runs/:id/events/:name", "operator", "Post an event to a run's waitFor steps ({payload}), sealed for the run; 404 when no waitFor step of the runbook waits for it, 413 past the payload cap, 429 past the buffered events cap", func(a *API) echo.HandlerFunc { return a.postEvent }},
		{"POST", "/api/v1/runs/:id/approvals/:step", "approver", "Vote on an approval ({decision: approve|reject, comment, item, inputs}); recorded, then sealed for the run that holds it (the run, or the running sub-runbook run id names or, through the parent, the one that has the step); the same vote again answers 200", func(a *API) echo.HandlerFunc { return a.vote }},
		{"POST", "/api/v1/runs/:id/steps/:step/decision", "operator", "Decide on a step that failed under onStepFailure: ask and waits (status waiting-decision) ({action: retry|skip|fail, outputs (skip: the step's outputs, checked against its declared outputs), inputs (retry of an action: inputs in place of its with values, checked against the action's spec), comment, item}; :step is an id or id[item]); sealed for the run, which checks the deciders; 200 with the step's timeline entry once the run acted on it; 404 unknown run or step, 409 not waiting or the run has ended (run RUN has already ended: STATUS), 403 not a decider, 422 outputs or inputs that do not fit (details: one problem each); audited as step.decision", func(a *API) echo.HandlerFunc { return a.decide }},
		{"GET", "/api/v1/approvals", "viewer", "Approvals and decisions waiting, those inside running sub-runbooks included (kind: approval or decision; run: the run to vote or decide through; parentRun: its recorded run; a decision has deciders, error and errorType, and no approvers when any operator may decide) (?mine=true: those the caller may vote on or decide). Read from the records, over every running run (no limit, no page), newest run first: as the records syncer last wrote each run (a pass every 2 s, longer with thousands of running runs), a vote or decision sent through the API as of its answer, unless writing its records fails (then within a pass) (the API keeps its last read of the records until it writes them, renewed behind requests after 1 s and read again before answering after 2 s: another replica's writes show within 2 s more); only the child runs of running sub-runbook steps, and at most 100 runs not recorded yet, are asked from Temporal", func(a *API) echo.HandlerFunc { return a.listApprovals }},
		{"GET", "/api/v1/audit", "viewer", "The audit trail, newest first: who registered, started, cancelled, voted, posted events, paused or triggered schedules, made or revoked tokens, and the refused starts, votes and cancels with the reason (run, runbook, actor, action, outcome, since, until, limit (default 100, at most 1000), cursor); {entries: [{id, at, actor, action, target, run, runbook, outcome: ok|refused, reason, detail}], next}; token entries need the admin role; a bad filter is 400", func(a *API) echo.HandlerFunc { return a.listAudit }},
		{"GET", "/api/v1/incidents", "viewer", "List incidents, newest first: {incidents: [{id, key, source: alertmanager|webhook|api, title, severity, service, status: open|mitigating|resolved, openedBy, openedAt, ackedAt, ackedBy, resolvedAt, resolvedBy, reopens, updatedAt, ttaSeconds, ttrSeconds}], next} (status, service, severity; since and until: RFC 3339 times it was opened at or after and before; limit: 1 to 500, default 50; cursor: the previous page's next); a bad filter is 400 with one detail per problem", func(a *API) echo.HandlerFunc { return a.listIncidents }},
		{"POST", "/api/v1/incidents", "operator", "Open an incident ({title (required, at most 500 characters), severity, service, key}): 201 {incident fields, outcome: opened}; with the key of an incident opened through the API before, 200 with it (outcome updated, or reopened when it was resolved); 422 for a missing title or a value too long, one problem per detail; audited as incident.open", func(a *API) echo.HandlerFunc { return a.createIncident }},
		{"GET", "/api/v1/incidents/stats", "viewer", "MTTA and MTTR of the incidents opened in a window (since: default 30 days before until; until: default now; service), overall and per service: {since, until, overall, services[]: {service (absent for incidents without one), incidents, open, mitigating, resolved, acknowledged, mttaSeconds: the mean of ackedAt - openedAt over those acknowledged, mttrSeconds: the mean of resolvedAt - openedAt over those resolved (null when there is none to average)}, truncated: true when more than 10000 incidents were opened in the window and only the newest 10000 are counted}; a bad parameter is 400", func(a *API) echo.HandlerFunc { return a.incidentStatsHandler }},
		{"GET", "/api/v1/incidents/:id", "viewer", "Get an incident with its runs ({incident fields, runs: [{run, runbook, status, trigger, linkedBy, linkedAt, endedAt}]}); 404 for no such incident", func(a *API) echo.HandlerFunc { return a.getIncident }},
		{"GET", "/api/v1/incidents/:id/timeline", "viewer", "An incident's timeline, oldest first: {incident, runs, entries: [{at, kind: alert|status|note|run (a run linked)|run.start|run.end|step|vote, actor, status, text, run, step, item}] (at most 5000; entriesOmitted counts the later ones)}: its alert reports, status changes and notes, and the starts, ends, steps and votes of its runs as the records have them; format=markdown answers the same as a Markdown document (text/markdown) for the post-incident review", func(a *API) echo.HandlerFunc { return a.getTimeline }},
		{"POST", "/api/v1/incidents/:id/notes", "operator", "Add a note to an incident's timeline ({text}: 1 to 4096 bytes, 413 past it, 422 empty): 201 with the entry; 409 when its timeline holds 2000 entries; audited as incident.note (its size, never its text)", func(a *API) echo.HandlerFunc { return a.addNote }},
		{"POST", "/api/v1/incidents/:id/ack", "operator", "Acknowledge an open incident ({reason}, optional, at most 1024 bytes): it becomes mitigating; the first acknowledgement sets ackedAt; 409 for one that is not open; audited as incident.ack", func(a *API) echo.HandlerFunc { return a.setIncidentStatus(store.IncidentMitigating) }},
		{"POST", "/api/v1/incidents/:id/resolve", "operator", "Resolve an open or mitigating incident ({reason}, optional, at most 1024 bytes), as a responder or a runbook step (run.incident names it): resolvedAt is now, ttrSeconds resolved minus opened; runs still going are left as they are; 409 for one already resolved; audited as incident.resolve", func(a *API) echo.HandlerFunc { return a.setIncidentStatus(store.IncidentResolved) }},
		{"POST", "/api/v1/incidents/:id/reopen", "operator", "Reopen a resolved incident ({reason}, optional): it is open again, resolvedAt cleared, reopens counted, openedAt and ackedAt kept; 409 for one not resolved; audited as incident.reopen", func(a *API) echo.HandlerFunc { return a.setIncidentStatus(store.IncidentOpen) }},
		{"POST", "/api/v1/tokens", "admin", "Create a token ({user, roles, groups, ttl}); 201 carries its secret, once", func(a *API) echo.HandlerFunc { return a.createToken }},
		{"GET", "/api/v1/tokens", "admin", "List tokens, never their secrets (?user=)", func(a *API) echo.HandlerFunc { return a.listTokens }},
		{"POST", "/api/v1/tokens/:id/revoke", "admin", "Revoke a token by id or prefix; it stops working at once", func(a *API) echo.HandlerFunc { return a.revokeToken }},
		{"POST", "/codec/encode", "operator", "Temporal's remote codec: encrypt payloads ({payloads: [{metadata, data}]}, as the Temporal CLI and Web UI send them) with the server's current codec key; 404 when payload encryption is off (no RUNBOOK_CODEC_KEYS). Browsers from RUNBOOK_CODEC_CORS_ORIGIN may call it (CORS)", func(a *API) echo.HandlerFunc { return a.codecHandler }},
		{"POST", "/codec/decode", "viewer", "Temporal's remote codec: decrypt payloads encrypted with any of the server's codec keys (others pass through), for the Temporal Web UI to show them; 404 when payload encryption is off. Browsers from RUNBOOK_CODEC_CORS_ORIGIN may call it (CORS)", func(a *API) echo.HandlerFunc { return a.codecHandler }},
		{"POST", "/hooks/alertmanager", "operator", "Alertmanager webhook: opens the group's incident (key: groupKey, else the alerts' fingerprints; title, severity and service from labels as RUNBOOK_INCIDENT_LABELS maps them), updates it, or reopens it when it was resolved; a resolved group resolves it and cancels its runs of runbooks whose trigger has onResolved: cancel; then starts or attaches remediation runs, linked to it: {runs: [{runbook, run, outcome: started|attached|duplicate, fingerprint, error}], incident: {id, status, outcome: opened|updated|reopened|resolved}, cancelled: [run ids]}", func(a *API) echo.HandlerFunc { return a.alertmanager }},
		{"POST", "/hooks/webhook/:name", "", "Signed JSON webhook (X-Signature-256: t=UNIX,id=DELIVERY,v1=HMAC-SHA256 over t, id, signedHeaders and body; 5-minute window; a replay is 409): start matching runs; a trigger with incident opens, updates, reopens or resolves the incident its key names and links the runs: {runs: [{runbook, run, outcome, error, incident: {id, status, outcome}}]}", func(a *API) echo.HandlerFunc { return a.webhook }},
	}
}

// Handler builds the Echo instance with every route.
func (a *API) Handler() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler
	e.Use(a.measure, middleware.BodyLimit("1M"), middleware.ContextTimeoutWithConfig(middleware.ContextTimeoutConfig{
		Timeout:      RequestTimeout,
		Skipper:      func(c echo.Context) bool { return c.Request().Header.Get("Accept") == "text/event-stream" },
		ErrorHandler: timeoutError,
	}))
	for _, r := range routeTable() {
		var mw []echo.MiddlewareFunc
		if isCodecRoute(r.path) {
			mw = append(mw, a.codecCORS)
			e.OPTIONS(r.path, func(c echo.Context) error { return nil }, a.codecCORS) // the preflight, without a token
		}
		if r.role != "" {
			mw = append(mw, a.authenticate, require(r.role))
		}
		mw = append(mw, knownQuery(r.method, r.path))
		e.Add(r.method, r.path, r.handler(a), mw...)
	}
	return e
}

// timeoutError answers a request that ran out of RequestTimeout with 503,
// keeping the database's own answer when it is the cause.
func timeoutError(err error, c echo.Context) error {
	var ue *store.UnavailableError
	if !errors.As(err, &ue) && errors.Is(err, context.DeadlineExceeded) {
		return problem(http.StatusServiceUnavailable, "the request took longer than "+RequestTimeout.String(), "retry later")
	}
	return err
}

func health(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"status": "ok"}) }

// errorHandler answers every error as JSON {error, details[]}.
func errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, p := http.StatusInternalServerError, Problem{Error: "internal error", Details: []any{}}
	var ae *apiError
	var ue *store.UnavailableError
	var tl *store.TooLongError
	var he *echo.HTTPError
	if errors.As(err, &tl) {
		err = tooLong(tl)
	}
	switch {
	case errors.As(err, &ae):
		status, p = ae.status, Problem{Error: ae.message, Details: ae.details}
	case errors.As(err, &ue):
		// The cause is logged; the answer names no DSN or user.
		c.Logger().Error(err)
		status, p = http.StatusServiceUnavailable, Problem{Error: ue.Error(), Details: []any{"retry later; GET /readyz answers 200 when the database answers again"}}
	case errors.As(err, &he):
		status = he.Code
		p.Error = strings.ToLower(http.StatusText(he.Code))
		if m, ok := he.Message.(string); ok && m != "" {
			p.Error = m
		}
	default:
		c.Logger().Error(err)
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	_ = c.JSON(status, p)
}

const identityKey = "identity"

// authenticate resolves the bearer token to an identity: 401 without a
// valid one. A request whose context already carries an identity
// (store.WithIdentity) comes from code in this process, the web console,
// which authenticated its session: nothing a client sends can set it.
func (a *API) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if id := store.IdentityFrom(c.Request().Context()); id != nil {
			c.Set(identityKey, id)
			return next(c)
		}
		h := c.Request().Header.Get("Authorization")
		secret, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || strings.TrimSpace(secret) == "" {
			return problem(http.StatusUnauthorized, "missing bearer token", "send Authorization: Bearer <token>")
		}
		id, err := a.Store.WithContext(c.Request().Context()).Authenticate(strings.TrimSpace(secret))
		if errors.Is(err, store.ErrBadToken) { // invalid token, token expired or token revoked
			return problem(http.StatusUnauthorized, err.Error())
		}
		if err != nil {
			return err
		}
		c.Set(identityKey, id)
		return next(c)
	}
}

// require refuses callers without role: 403.
func require(role string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !identity(c).Has(role) {
				return problem(http.StatusForbidden, "this needs the "+role+" role")
			}
			return next(c)
		}
	}
}

func identity(c echo.Context) *store.Identity {
	id, _ := c.Get(identityKey).(*store.Identity)
	if id == nil {
		return &store.Identity{}
	}
	return id
}

// ReadyTimeout bounds /readyz: the database and Temporal are asked at once,
// each within it.
const ReadyTimeout = 3 * time.Second

// ready answers 200 when the database and Temporal both answer within
// ReadyTimeout, else 503 naming what failed: never a DSN or a user name.
func (a *API) ready(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), ReadyTimeout)
	defer cancel()
	var db, temporal error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, temporal = a.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{})
	}()
	db = a.Store.Ping(ctx)
	wg.Wait()
	var failed []any
	if db != nil {
		var ue *store.UnavailableError
		msg := "database: does not answer"
		switch {
		case ctx.Err() != nil:
			msg = "database: did not answer within " + ReadyTimeout.String()
		case errors.As(db, &ue):
			msg = "database: " + ue.Reason
		}
		c.Logger().Error(db)
		failed = append(failed, msg)
	}
	if temporal != nil {
		msg := "temporal: " + temporal.Error()
		if ctx.Err() != nil {
			msg = "temporal: did not answer within " + ReadyTimeout.String()
		}
		failed = append(failed, msg)
	}
	if len(failed) > 0 {
		return problem(http.StatusServiceUnavailable, "not ready", failed...)
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

func timeNow() time.Time { return time.Now().UTC() }

// decodeBody decodes a JSON request body into v, refusing fields v does
// not have (a misspelt "parmas" must not start a run with defaults). An
// empty body is {} when emptyOK.
func decodeBody(c echo.Context, v any, emptyOK bool) error {
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	switch {
	case err == nil, emptyOK && errors.Is(err, io.EOF):
		return nil
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return problem(http.StatusBadRequest, "the body has an "+strings.TrimPrefix(err.Error(), "json: "), "fields: "+fieldsOf(v))
	}
	return problem(http.StatusBadRequest, "the body is not JSON: "+err.Error())
}

// fieldsOf lists the JSON fields of the struct v points to.
func fieldsOf(v any) string {
	t := reflect.TypeOf(v).Elem()
	var names []string
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return strings.Join(names, ", ")
}
