package store

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
)

// Outcomes of an audit entry.
const (
	AuditOK      = "ok"
	AuditRefused = "refused"
)

// The actions the audit trail records.
const (
	ActionRunbookRegister = "runbook.register"
	ActionRunStart        = "run.start"
	ActionRunCancel       = "run.cancel"
	ActionRunRerun        = "run.rerun"
	ActionRunEvent        = "run.event"
	ActionApprovalVote    = "approval.vote"
	ActionStepDecision    = "step.decision"
	ActionSchedulePause   = "schedule.pause"
	ActionScheduleUnpause = "schedule.unpause"
	ActionScheduleTrigger = "schedule.trigger"
	ActionTokenCreate     = "token.create"
	ActionTokenRevoke     = "token.revoke"
	ActionFreezeRegister  = "freeze.register"
	ActionFreezeDelete    = "freeze.delete"
	ActionScheduleSkip    = "schedule.skip"
	ActionSignIn          = "session.signin"
	ActionSignOut         = "session.signout"
	ActionIncidentOpen    = "incident.open"
	ActionIncidentReopen  = "incident.reopen"
	ActionIncidentAck     = "incident.ack"
	ActionIncidentResolve = "incident.resolve"
	ActionIncidentNote    = "incident.note"
	ActionIncidentLink    = "incident.link"
)

// RegisterDetail is the detail of runbook.register.
type RegisterDetail struct {
	Version int    `json:"version" doc:"the new version"`
	Hash    string `json:"hash" doc:"the version's content hash"`
}

// RunStartDetail is the detail of run.start, done or refused.
type RunStartDetail struct {
	Version       int    `json:"version" doc:"the runbook version started"`
	Trigger       string `json:"trigger" doc:"api, schedule, alert or webhook"`
	TriggeredBy   string `json:"triggeredBy" doc:"the user, schedule name, alert fingerprint or webhook name"`
	TriggerDetail string `json:"triggerDetail,omitempty" doc:"the alert name, schedule name or webhook delivery"`
	Status        int    `json:"status,omitempty" doc:"refused: the HTTP status of the refusal"`
}

// CancelDetail is the detail of run.cancel.
type CancelDetail struct {
	Reason string `json:"reason,omitempty" doc:"the reason the caller gave (the body's reason)"`
	Status int    `json:"status,omitempty" doc:"refused: the HTTP status of the refusal"`
}

// RerunDetail is the detail of run.rerun.
type RerunDetail struct {
	Of      string `json:"of" doc:"the run rerun"`
	From    string `json:"from,omitempty" doc:"the step it resumes from (deploy, deploy[3]); none: from the top"`
	Version int    `json:"version" doc:"the runbook version the new run runs"`
	Reason  string `json:"reason,omitempty" doc:"the reason the caller gave"`
	Status  int    `json:"status,omitempty" doc:"refused: the HTTP status of the refusal"`
}

// VoteDetail is the detail of approval.vote: never its inputs' values.
type VoteDetail struct {
	Step     string `json:"step" doc:"the approval step"`
	Item     *int   `json:"item,omitempty" doc:"the forEach item, inside a loop"`
	Decision string `json:"decision" doc:"approve or reject"`
	Comment  string `json:"comment,omitempty" doc:"the voter's comment"`
	Code     string `json:"code,omitempty" doc:"refused: the run's reason code (SelfApproval, NotApprover, AlreadyVoted, NotWaiting, ...)"`
	Status   int    `json:"status,omitempty" doc:"refused: the HTTP status of the refusal"`
}

// DecisionDetail is the detail of step.decision: never the outputs' or
// inputs' values.
type DecisionDetail struct {
	Step    string `json:"step" doc:"the step that failed under onStepFailure: ask"`
	Item    *int   `json:"item,omitempty" doc:"the forEach item, inside a loop"`
	Action  string `json:"action" doc:"retry, skip or fail"`
	Comment string `json:"comment,omitempty" doc:"the decider's comment"`
	Code    string `json:"code,omitempty" doc:"refused: the reason code (NotWaiting, NotDecider, InvalidDecision, ...)"`
	Status  int    `json:"status,omitempty" doc:"refused: the HTTP status of the refusal"`
}

// EventDetail is the detail of run.event: the payload's size, never its
// content.
type EventDetail struct {
	Event string `json:"event" doc:"the event name"`
	Size  int    `json:"size" doc:"the payload's size in bytes of JSON"`
}

// ScheduleDetail is the detail of schedule.pause, schedule.unpause and
// schedule.trigger.
type ScheduleDetail struct {
	Schedule string `json:"schedule" doc:"the schedule name"`
}

// FreezeDetail is the detail of freeze.register and freeze.delete.
type FreezeDetail struct {
	Reason  string `json:"reason,omitempty" doc:"the freeze's reason"`
	Windows int    `json:"windows,omitempty" doc:"how many windows it has"`
}

// ScheduleSkipDetail is the detail of schedule.skip.
type ScheduleSkipDetail struct {
	Schedule string `json:"schedule" doc:"the schedule name"`
	Freeze   string `json:"freeze" doc:"the freeze that held the runbook back"`
	Fire     string `json:"fire" doc:"the fire's time, RFC 3339"`
	Until    string `json:"until" doc:"when the freeze's window ends, RFC 3339"`
}

// TokenDetail is the detail of token.create and token.revoke: never the
// secret or its hash.
type TokenDetail struct {
	User      string   `json:"user" doc:"the token's user"`
	Prefix    string   `json:"prefix" doc:"the secret's first 12 characters"`
	Roles     []string `json:"roles" doc:"its roles"`
	Groups    []string `json:"groups" doc:"its groups"`
	ExpiresAt string   `json:"expiresAt,omitempty" doc:"its expiry, RFC 3339"`
}

// SessionDetail is the detail of session.signin and session.signout: how
// and from where, never a token or a session secret.
type SessionDetail struct {
	Method  string   `json:"method" doc:"token or oidc"`
	Address string   `json:"address" doc:"the client's address (the connection's, not a forwarded header)"`
	Roles   []string `json:"roles,omitempty" doc:"signed in: the session's roles"`
	Groups  []string `json:"groups,omitempty" doc:"signed in: the session's approver groups"`
	Status  int      `json:"status,omitempty" doc:"refused: the HTTP status of the refusal"`
}

// IncidentDetail is the detail of the incident actions: never a note's
// text.
type IncidentDetail struct {
	Incident uint   `json:"incident" doc:"the incident's id"`
	Status   string `json:"status,omitempty" doc:"the status it has after the action"`
	From     string `json:"from,omitempty" doc:"the status it had before"`
	Source   string `json:"source,omitempty" doc:"where the report came from (incident.open, incident.reopen): alertmanager, webhook or api"`
	Reason   string `json:"reason,omitempty" doc:"the reason the caller gave, or what resolved it"`
	Run      string `json:"run,omitempty" doc:"incident.link: the run linked"`
	Size     int    `json:"size,omitempty" doc:"incident.note: the note's size in bytes"`
	Code     int    `json:"code,omitempty" doc:"refused: the HTTP status of the refusal"`
}

// AuditAction is one action of the audit trail: what its target is, the
// type of its detail, and when it is written. The documentation's table
// is made from these, and Append refuses any other action or detail.
type AuditAction struct {
	Name, Target, When string
	Detail             any // a zero value of the detail's type
}

// AuditActions lists every action the audit trail records.
var AuditActions = []AuditAction{
	{ActionRunbookRegister, "`NAME vN`", "a new version is registered (`POST /api/v1/runbooks`); the same content again records nothing", RegisterDetail{}},
	{ActionRunStart, "the run id; refused: the runbook name", "a run is recorded: started through the API, a schedule's `trigger`, an alert, a webhook, or found started by a schedule (actor `system:schedule`); refused: a start of a registered runbook answered 4xx (bad or fixed params 422, a held concurrency key 409, params too large 413, an idempotency key reused otherwise, a schedule's params that do not bind), or an alert's or webhook's match whose params the runbook refuses or whose start is refused", RunStartDetail{}},
	{ActionRunCancel, "the run id", "a cancel is sent to a running run (appended before it is sent; a send that then fails is followed by a refused entry with why); refused: the run has already ended (409)", CancelDetail{}},
	{ActionRunRerun, "the new run's id; refused: the run asked to be rerun", "a rerun is recorded (`POST /api/v1/runs/RUN/rerun`), in the same transaction as the new run's `run.start`; refused: the rerun was answered 4xx (the run is still running 409, an unknown step, a step after where the run stopped, reads of steps without a result 422...)", RerunDetail{}},
	{ActionRunEvent, "`RUN/EVENT`", "the run took an event (`POST /api/v1/runs/RUN/events/EVENT`)", EventDetail{}},
	{ActionApprovalVote, "`RUN/STEP` (RUN the workflow that holds the step: the run, or a sub-runbook run)", "the run counted the vote; refused: the run refused it (self-approval, not an approver, already voted, not waiting, a bad decision or input, a seal problem), the run has ended (409, even for a repeat of a counted vote) or the API did (a body it cannot read, past a cap). A vote whose answer the API lost stays pending until the records syncer settles it: counted when the run's timeline holds it, refused when the run has ended or no longer waits at the approval", VoteDetail{}},
	{ActionStepDecision, "`RUN/STEP` (RUN the workflow that holds the step: the run, or a sub-runbook run)", "the run took a decision (retry, skip or fail) on a step waiting for one; refused: the API or the run refused it (not waiting 409, not a decider 403, outputs or inputs that do not fit 422, a seal problem) or the run has ended (409)", DecisionDetail{}},
	{ActionSchedulePause, "`RUNBOOK/SCHEDULE`", "a schedule is paused", ScheduleDetail{}},
	{ActionScheduleUnpause, "`RUNBOOK/SCHEDULE`", "a schedule is unpaused", ScheduleDetail{}},
	{ActionScheduleTrigger, "`RUNBOOK/SCHEDULE`", "a schedule's `trigger` started a run (its `run`; the run's own `run.start` is by the same caller; a refused trigger is a refused `run.start`)", ScheduleDetail{}},
	{ActionFreezeRegister, "the freeze's name", "a freeze is registered, or replaced by another source (`POST /api/v1/freezes`); the same source again records nothing", FreezeDetail{}},
	{ActionFreezeDelete, "the freeze's name", "a freeze is lifted (`DELETE /api/v1/freezes/NAME`); the detail is the lifted freeze's", FreezeDetail{}},
	{ActionScheduleSkip, "`RUNBOOK/SCHEDULE`", "a schedule's fire started no run because a freeze held the runbook back (actor `system:schedule`; the records syncer writes it when it finds the fire)", ScheduleSkipDetail{}},
	{ActionTokenCreate, "the token's id", "a token is made through the admin API or `runbook token create --db`", TokenDetail{}},
	{ActionTokenRevoke, "the token's id", "a token is revoked", TokenDetail{}},
	{ActionSignIn, "`session N`; refused: the method", "a web console sign-in started a session (actor: the user); refused: a token the API refuses (actor `anonymous`), or an OpenID Connect callback refused (a state mismatch, the provider's error, a code or ID token it does not accept, claims that name no user, no role; actor: the user when the provider named one, else `anonymous`). Refusals past the failed sign-in limit (429) are not recorded", SessionDetail{}},
	{ActionSignOut, "`session N`", "a web console session is ended by its Sign out", SessionDetail{}},
	{ActionIncidentOpen, "`incident/ID`", "an incident is opened: by an Alertmanager group that fires (actor: the hook's caller), a signed webhook's delivery (`system:webhook`) or `POST /api/v1/incidents`", IncidentDetail{}},
	{ActionIncidentReopen, "`incident/ID`", "a resolved incident is open again: its alert group or webhook key fires again, or `POST /api/v1/incidents/ID/reopen`; refused: it is not resolved (409)", IncidentDetail{}},
	{ActionIncidentAck, "`incident/ID`", "a responder acknowledged it (`POST /api/v1/incidents/ID/ack`: open → mitigating); refused: it is not open (409)", IncidentDetail{}},
	{ActionIncidentResolve, "`incident/ID`", "it is resolved: Alertmanager's resolved notification, a webhook delivery whose `resolved` is true, or `POST /api/v1/incidents/ID/resolve` (a responder or a runbook step); refused: it is already resolved (409)", IncidentDetail{}},
	{ActionIncidentNote, "`incident/ID`", "a responder added a note (`POST /api/v1/incidents/ID/notes`); refused: past a cap (413, 409 when the incident's timeline is full)", IncidentDetail{}},
	{ActionIncidentLink, "`incident/ID`", "a run is linked to it: started by a trigger for its alert group, or by hand with `incident` (`runbook run --incident ID`); the first link to an open incident acknowledges it (status mitigating)", IncidentDetail{}},
}

// AdminActions are the actions only admins see in the audit trail: the
// token and session entries, which name users, roles, groups and
// addresses.
var AdminActions = []string{ActionTokenCreate, ActionTokenRevoke, ActionSignIn, ActionSignOut}

// Audit limits: a longer reason is cut, so an entry is never lost to its
// length.
const MaxAuditReason = 1000

// AuditRecord is an entry to append. Refused is the reason of a refusal;
// empty, the entry's outcome is ok.
type AuditRecord struct {
	Actor, Action, Target string
	Run, Runbook          string
	Refused               string
	Detail                any // the action's detail type
}

// Append records an audit entry. It is the only way to write one.
func (s *Store) Append(r AuditRecord) error { return appendAudit(s.db, r) }

// appendAudit appends r in tx: an unknown action or a detail of another
// type than the action's is an error (our bug), so the documentation's
// table stays what the code writes.
func appendAudit(tx *gorm.DB, r AuditRecord) error {
	e, err := auditEntry(r)
	if err != nil {
		return err
	}
	return tx.Create(e).Error
}

// auditEntry is the entry recording r, checked and cut to its columns.
func auditEntry(r AuditRecord) (*AuditEntry, error) {
	a, ok := auditAction(r.Action)
	if !ok {
		return nil, fmt.Errorf("store: audit: unknown action %q", r.Action)
	}
	if got, want := reflect.TypeOf(r.Detail), reflect.TypeOf(a.Detail); got != want {
		return nil, fmt.Errorf("store: audit: action %s takes a %v detail, not %v", r.Action, want, got)
	}
	d, err := json.Marshal(r.Detail)
	if err != nil {
		return nil, fmt.Errorf("store: audit detail: %w", err)
	}
	sized := func(field, v string) string { return cut(v, Size(AuditEntry{}, field)) }
	e := &AuditEntry{At: time.Now().UTC(), Actor: sized("Actor", r.Actor), Action: r.Action, Target: sized("Target", r.Target),
		Run: sized("Run", r.Run), Runbook: sized("Runbook", r.Runbook), Outcome: AuditOK, Detail: string(d)}
	if r.Refused != "" {
		e.Outcome, e.Reason = AuditRefused, cut(r.Refused, MaxAuditReason)
	}
	return e, nil
}

func auditAction(name string) (AuditAction, bool) {
	for _, a := range AuditActions {
		if a.Name == name {
			return a, true
		}
	}
	return AuditAction{}, false
}

// cut shortens s to n characters, marking the cut with an ellipsis.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// AuditFilter selects audit entries; zero fields select all. Before is
// the id of the last entry of the previous page; Hide leaves actions out.
type AuditFilter struct {
	Run, Runbook, Actor, Action, Outcome string
	Since, Until                         time.Time
	Before                               uint
	Limit                                int
	Hide                                 []string
}

// MaxAuditPage bounds a page of the audit trail.
const MaxAuditPage = 1000

// AuditEntries lists audit entries newest first (by id, which only
// grows), a page at a time: it says whether more follow.
func (s *Store) AuditEntries(f AuditFilter) ([]AuditEntry, bool, error) {
	if f.Limit <= 0 || f.Limit > MaxAuditPage {
		f.Limit = 100
	}
	q := s.db.Model(&AuditEntry{})
	for col, v := range map[string]string{"run": f.Run, "runbook": f.Runbook, "actor": f.Actor, "action": f.Action, "outcome": f.Outcome} {
		if v != "" {
			q = q.Where(map[string]any{col: v})
		}
	}
	if !f.Since.IsZero() {
		q = q.Where("at >= ?", f.Since.UTC())
	}
	if !f.Until.IsZero() {
		q = q.Where("at < ?", f.Until.UTC())
	}
	if f.Before > 0 {
		q = q.Where("id < ?", f.Before)
	}
	if len(f.Hide) > 0 {
		q = q.Where("action NOT IN ?", f.Hide)
	}
	var out []AuditEntry
	if err := q.Order("id DESC").Limit(f.Limit + 1).Find(&out).Error; err != nil {
		return nil, false, err
	}
	if len(out) > f.Limit {
		return out[:f.Limit], true, nil
	}
	return out, false, nil
}

// AuditLog lists audit entries, newest first, optionally for actions
// starting with prefix.
func (s *Store) AuditLog(prefix string, limit int) ([]AuditEntry, error) {
	q := s.db.Order("id DESC").Limit(max(limit, 1))
	if prefix != "" {
		q = q.Where("action LIKE ?", strings.ReplaceAll(prefix, "%", "")+"%")
	}
	var out []AuditEntry
	err := q.Find(&out).Error
	return out, err
}

// The triggers that make the audit table append-only. SQLite: the table
// name is fixed by GORM (audit_entries). Postgres: the function and
// triggers live in the schema the store uses; TRUNCATE is refused too.
var (
	sqliteAuditTriggers = []string{
		`CREATE TRIGGER IF NOT EXISTS audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'audit entries are append-only: UPDATE refused'); END`,
		`CREATE TRIGGER IF NOT EXISTS audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'audit entries are append-only: DELETE refused'); END`,
	}
	postgresAuditTriggers = []string{
		`DO $$ BEGIN
	CREATE FUNCTION audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $f$
	BEGIN RAISE EXCEPTION 'audit entries are append-only: % refused', TG_OP; END $f$;
EXCEPTION WHEN duplicate_function THEN NULL;
END $$`,
		`DO $$ BEGIN
	CREATE TRIGGER audit_entries_no_change BEFORE UPDATE OR DELETE ON audit_entries
		FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only();
EXCEPTION WHEN duplicate_object THEN NULL;
END $$`,
		`DO $$ BEGIN
	CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
		FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_append_only();
EXCEPTION WHEN duplicate_object THEN NULL;
END $$`,
	}
)

// migrateAudit makes the audit table append-only. The first time (no
// trigger yet), entries written before the run and runbook columns
// existed get them from their target, so the filters find them too.
func (s *Store) migrateAudit() error {
	var n int64
	var err error
	sqlite := s.db.Dialector.Name() == "sqlite"
	if sqlite {
		err = s.db.Raw(`SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name = 'audit_entries_no_update'`).Scan(&n).Error
	} else {
		err = s.db.Raw(`SELECT count(*) FROM pg_trigger WHERE tgname = 'audit_entries_no_change' AND tgrelid = 'audit_entries'::regclass`).Scan(&n).Error
	}
	if err != nil {
		return fmt.Errorf("audit triggers: %w", err)
	}
	if n == 0 {
		if err := s.backfillAudit(); err != nil {
			return fmt.Errorf("audit backfill: %w", err)
		}
	}
	triggers := postgresAuditTriggers
	if sqlite {
		triggers = sqliteAuditTriggers
	}
	for _, q := range triggers {
		if err := s.db.Exec(q).Error; err != nil {
			return fmt.Errorf("audit triggers: %w", err)
		}
	}
	return nil
}

// backfillAudit sets the run and runbook of entries that lack them, from
// their targets and the runs they name. It is
// set-based, a statement per kind of target, so a large old table
// migrates within the query timeout.
func (s *Store) backfillAudit() error {
	pos := "instr" // the position of a substring: SQLite's instr, Postgres's strpos
	if s.db.Dialector.Name() == "postgres" {
		pos = "strpos"
	}
	// before is s up to the first sep, all of s without one.
	before := func(s, sep string) string {
		return fmt.Sprintf("CASE WHEN %[1]s(%[2]s, '%[3]s') > 0 THEN substr(%[2]s, 1, %[1]s(%[2]s, '%[3]s') - 1) ELSE %[2]s END", pos, s, sep)
	}
	runs, runbooks := Size(AuditEntry{}, "Run"), Size(AuditEntry{}, "Runbook")
	sets := []struct {
		column, value string
		actions       []string
	}{
		{"run", "target", []string{ActionRunStart, ActionRunCancel}},
		// A sub-runbook run's record is its root's.
		{"run", before(before("target", "/"), "."), []string{ActionApprovalVote, ActionRunEvent}},
		{"runbook", before("target", "/"), []string{ActionSchedulePause, ActionScheduleUnpause, ActionScheduleTrigger}},
		{"runbook", before("target", " "), []string{ActionRunbookRegister}},
	}
	return s.transaction(func(tx *gorm.DB) error {
		for _, set := range sets {
			size := runs
			if set.column == "runbook" {
				size = runbooks
			}
			q := fmt.Sprintf("UPDATE audit_entries SET %s = substr(%s, 1, %d) WHERE run = '' AND runbook = '' AND target <> '' AND action IN ?", set.column, set.value, size)
			if err := tx.Exec(q, set.actions).Error; err != nil {
				return err
			}
		}
		return tx.Exec(`UPDATE audit_entries SET runbook = (SELECT runs.runbook FROM runs WHERE runs.id = audit_entries.run)
WHERE runbook = '' AND run <> '' AND EXISTS (SELECT 1 FROM runs WHERE runs.id = audit_entries.run)`).Error
	})
}

// AuditActionsMarkdown is the table of AuditActions that
// docs/operations.md holds (a test keeps them equal).
func AuditActionsMarkdown() string {
	var b strings.Builder
	b.WriteString("| action | target | detail | written when |\n|---|---|---|---|\n")
	for _, a := range AuditActions {
		var fields []string
		t := reflect.TypeOf(a.Detail)
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			fields = append(fields, fmt.Sprintf("`%s`: %s", name, f.Tag.Get("doc")))
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", a.Name, a.Target, strings.Join(fields, "; "), a.When)
	}
	return b.String()
}
