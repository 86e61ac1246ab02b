package server

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/store"
)

// auditEntryView is an audit entry as the API shows it: its detail as
// JSON ({} when it has none).
type auditEntryView struct {
	ID      uint            `json:"id"`
	At      time.Time       `json:"at"`
	Actor   string          `json:"actor"`
	Action  string          `json:"action"`
	Target  string          `json:"target"`
	Run     string          `json:"run,omitempty"`
	Runbook string          `json:"runbook,omitempty"`
	Outcome string          `json:"outcome"`
	Reason  string          `json:"reason,omitempty"`
	Detail  json.RawMessage `json:"detail"`
}

func auditView(e store.AuditEntry) auditEntryView {
	v := auditEntryView{ID: e.ID, At: e.At.UTC(), Actor: e.Actor, Action: e.Action, Target: e.Target, Run: e.Run,
		Runbook: e.Runbook, Outcome: e.Outcome, Reason: e.Reason, Detail: json.RawMessage(e.Detail)}
	switch {
	case e.Detail == "" || e.Detail == "null":
		v.Detail = json.RawMessage("{}")
	case !json.Valid(v.Detail):
		v.Detail, _ = json.Marshal(e.Detail)
	}
	return v
}

// DefaultAuditPage is a page of the audit trail without ?limit.
const DefaultAuditPage = 100

// auditQuery documents GET /api/v1/audit's query parameters.
var auditQuery = []any{
	queryParam("run", "string", "entries about this run (its sub-runbooks' votes included)"),
	queryParam("runbook", "string", "entries about this runbook"),
	queryParam("actor", "string", "entries by this user (or system:schedule, system:webhook, cli:USER)"),
	queryParam("action", "string", "entries of this action: "+strings.Join(auditActionNames(), ", ")),
	queryParam("outcome", "string", "ok or refused"),
	queryParam("since", "string", "entries at or after this RFC 3339 time"),
	queryParam("until", "string", "entries before this RFC 3339 time"),
	queryParam("limit", "integer", fmt.Sprintf("entries per page, 1 to %d (default %d)", store.MaxAuditPage, DefaultAuditPage)),
	queryParam("cursor", "string", "the next of the previous page"),
}

func queryParam(name, typ, desc string) map[string]any {
	return map[string]any{"name": name, "in": "query", "required": false, "schema": map[string]any{"type": typ}, "description": desc}
}

func auditActionNames() []string {
	names := make([]string, len(store.AuditActions))
	for i, a := range store.AuditActions {
		names[i] = a.Name
	}
	return names
}

// listAudit answers the audit trail newest first, a page at a time. A
// viewer reads all of it but the token and session entries, which need
// admin (they name users, roles, groups and addresses the token list
// keeps to admins).
func (a *API) listAudit(c echo.Context) error {
	f, err := auditFilter(c)
	if err != nil {
		return err
	}
	if !identity(c).Has("admin") {
		if slices.Contains(store.AdminActions, f.Action) {
			return problem(http.StatusForbidden, "the "+f.Action+" entries need the admin role")
		}
		f.Hide = store.AdminActions
	}
	entries, more, err := a.Store.AuditEntries(f)
	if err != nil {
		return err
	}
	out := struct {
		Entries []auditEntryView `json:"entries"`
		Next    string           `json:"next"`
	}{Entries: make([]auditEntryView, 0, len(entries))}
	for _, e := range entries {
		out.Entries = append(out.Entries, auditView(e))
	}
	if more {
		out.Next = auditCursor(entries[len(entries)-1].ID)
	}
	return c.JSON(http.StatusOK, out)
}

// auditFilter reads the query: every bad value is one of the details of a
// 400, as is a parameter the route does not know.
func auditFilter(c echo.Context) (store.AuditFilter, error) {
	q := c.QueryParams()
	f := store.AuditFilter{Run: q.Get("run"), Runbook: q.Get("runbook"), Actor: q.Get("actor"), Action: q.Get("action"),
		Outcome: q.Get("outcome"), Limit: DefaultAuditPage}
	bad := queryProblems(q, queryNames(auditQuery))
	for _, s := range []struct{ name, value, field string }{{"run", f.Run, "Run"}, {"runbook", f.Runbook, "Runbook"}, {"actor", f.Actor, "Actor"}} {
		if n := store.Size(store.AuditEntry{}, s.field); store.Length(s.value) > n {
			bad = append(bad, fmt.Sprintf("%s: at most %d characters", s.name, n))
		}
	}
	if f.Action != "" && !slices.Contains(auditActionNames(), f.Action) {
		bad = append(bad, fmt.Sprintf("action: unknown action %q (actions: %s)", f.Action, strings.Join(auditActionNames(), ", ")))
	}
	if f.Outcome != "" && f.Outcome != store.AuditOK && f.Outcome != store.AuditRefused {
		bad = append(bad, fmt.Sprintf("outcome: %q is neither ok nor refused", f.Outcome))
	}
	bad = append(bad, timeRange(q, &f.Since, &f.Until)...)
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > store.MaxAuditPage {
			bad = append(bad, fmt.Sprintf("limit: %q is not an integer from 1 to %d", s, store.MaxAuditPage))
		}
		f.Limit = n
	}
	if s := q.Get("cursor"); s != "" {
		id, ok := parseAuditCursor(s)
		if !ok {
			bad = append(bad, "cursor: not a cursor this API gave (use the next of a page)")
		}
		f.Before = id
	}
	if bad != nil {
		return f, problem(http.StatusBadRequest, "invalid audit query", bad...)
	}
	return f, nil
}

// The cursor is opaque to clients: the id of a page's last entry.
const auditCursorPrefix = "audit:"

func auditCursor(id uint) string {
	return base64.RawURLEncoding.EncodeToString([]byte(auditCursorPrefix + strconv.FormatUint(uint64(id), 10)))
}

func parseAuditCursor(s string) (uint, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimPrefix(string(b), auditCursorPrefix), 10, 32)
	if err != nil || !strings.HasPrefix(string(b), auditCursorPrefix) || n == 0 {
		return 0, false
	}
	return uint(n), true
}

// refusal is an error answer the API gives a caller (4xx): its sentence
// with its details, and its status. Other errors are not refusals.
func refusal(err error) (string, int, bool) {
	var ae *apiError
	if !errors.As(err, &ae) || ae.status < 400 || ae.status >= 500 {
		return "", 0, false
	}
	parts := []string{ae.message}
	for _, d := range ae.details {
		parts = append(parts, detailText(d))
	}
	return strings.Join(parts, "; "), ae.status, true
}

// appendRefusal appends the entry of a refusal: a failure to record it is
// logged, and the caller still gets its answer.
func (a *API) appendRefusal(c echo.Context, r store.AuditRecord) {
	if err := a.Store.Append(r); err != nil {
		c.Logger().Errorf("audit of a refused %s by %s not recorded: %v", r.Action, r.Actor, err)
	}
}

// refusedStart records a start of a registered runbook the API refused.
func (a *API) refusedStart(c echo.Context, runbook string, version int, o origin, err error) {
	reason, status, ok := refusal(err)
	if !ok {
		return
	}
	a.appendRefusal(c, store.AuditRecord{Actor: o.startedBy, Action: store.ActionRunStart, Target: runbook, Runbook: runbook, Refused: reason,
		Detail: store.RunStartDetail{Version: version, Trigger: string(o.trigger), TriggeredBy: o.triggeredBy, TriggerDetail: o.detail, Status: status}})
}

// auditScope is the recorded run a workflow id belongs to (a sub-runbook
// run's is its root's) and that run's runbook.
func (a *API) auditScope(wf string) (run, runbook string) {
	run, _, _ = strings.Cut(wf, ".")
	if r, err := a.Store.Run(run); err == nil {
		runbook = r.Runbook
	}
	return run, runbook
}

// detailText is a problem's detail in words: an object as "key: value"
// pairs in key order.
func detailText(d any) string {
	if s, ok := d.(string); ok {
		return s
	}
	b, err := json.Marshal(d)
	if err != nil {
		return fmt.Sprint(d)
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return string(b)
	}
	pairs := make([]string, 0, len(m))
	for _, k := range plan.SortedKeys(m) {
		pairs = append(pairs, fmt.Sprintf("%s: %v", k, m[k]))
	}
	return strings.Join(pairs, ", ")
}
