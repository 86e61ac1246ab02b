package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/opsrunbook/runbook/plan"
)

// page is what every template gets: the signed-in user (nil on the
// sign-in page), the session's CSRF token for forms, and the page's data.
type page struct {
	Title string
	User  string
	Roles []string
	CSRF  string
	// Can holds the roles the user has, for showing only the forms the
	// API would take.
	Can  map[string]bool
	Data any
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, u *user, status int, name string, data any) {
	t := c.pages[name]
	if t == nil {
		http.Error(w, "no page "+name, http.StatusInternalServerError)
		return
	}
	p := page{Title: name, Data: data, Can: map[string]bool{}}
	if u != nil {
		p.User, p.Roles, p.CSRF = u.id.User, u.id.Roles, u.session.CSRF
		for _, role := range []string{"viewer", "operator", "approver", "author", "admin"} {
			p.Can[role] = u.id.Has(role)
		}
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, p); err != nil {
		log.Printf("web: render %s: %v", name, err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// failure is the error page's data.
type failure struct {
	Message string
	Details []string
	Back    string
}

// fail shows an error page: for an *apiProblem its status, message and
// details.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, u *user, status int, msg string, err error) {
	f := failure{Message: msg, Back: r.Referer()}
	var p *apiProblem
	if errors.As(err, &p) {
		status, f.Details = p.Status, p.DetailText()
		if f.Message == "" {
			f.Message = p.Message
		} else {
			f.Message += ": " + p.Message
		}
	} else if err != nil {
		f.Message += ": " + err.Error()
	}
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if !strings.HasPrefix(f.Back, "/") && !sameOrigin(f.Back, r) {
		f.Back = ""
	}
	c.render(w, r, u, status, "error", f)
}

func sameOrigin(ref string, r *http.Request) bool {
	return ref != "" && (strings.HasPrefix(ref, "http://"+r.Host+"/") || strings.HasPrefix(ref, "https://"+r.Host+"/"))
}

var funcs = template.FuncMap{
	"iso": func(t any) string {
		if tt := timeOf(t); tt != nil {
			return tt.UTC().Format(time.RFC3339)
		}
		return ""
	},
	"utc": func(t any) string {
		if tt := timeOf(t); tt != nil {
			return tt.UTC().Format("2006-01-02 15:04:05 UTC")
		}
		return "—"
	},
	"since": func(t any) string {
		if tt := timeOf(t); tt != nil {
			return roundDuration(time.Since(*tt))
		}
		return "—"
	},
	"until": func(t any) string {
		if tt := timeOf(t); tt != nil {
			d := time.Until(*tt)
			if d < 0 {
				return "passed " + roundDuration(-d) + " ago"
			}
			return "in " + roundDuration(d)
		}
		return "—"
	},
	"json":  jsonText,
	"value": valueText,
	"keys": func(m map[string]any) []string {
		out := make([]string, 0, len(m))
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	},
	"join":   strings.Join,
	"status": statusClass,
	"deref": func(i *int) int {
		if i == nil {
			return -1
		}
		return *i
	},
	"stepKey": stepKey,
	"repeat":  strings.Repeat,
	"eq1":     func(a, b any) bool { return fmt.Sprint(a) == fmt.Sprint(b) },
}

func timeOf(t any) *time.Time {
	switch v := t.(type) {
	case time.Time:
		if v.IsZero() {
			return nil
		}
		return &v
	case *time.Time:
		if v == nil || v.IsZero() {
			return nil
		}
		return v
	}
	return nil
}

func roundDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return d.Round(time.Minute).String()
	}
	return d.Round(time.Minute).String()
}

// jsonText is v as indented JSON; a string as it is.
func jsonText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // the page escapes it; \u003c would hide what was written
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// valueText is a plan value as the runbook wrote it: literals as JSON,
// expressions and templates with their ${{ }}.
func valueText(v *plan.Value) string {
	if v == nil {
		return ""
	}
	switch v.Kind {
	case plan.ValueExpr:
		if v.Expr != nil {
			return "${{ " + v.Expr.Src + " }}"
		}
	case plan.ValueTmpl:
		var b strings.Builder
		for _, p := range v.Tmpl {
			b.WriteString(p.Text)
			if p.Expr != nil {
				b.WriteString("${{ " + p.Expr.Src + " }}")
			}
		}
		return b.String()
	case plan.ValueList:
		parts := make([]string, len(v.List))
		for i, e := range v.List {
			parts[i] = valueText(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case plan.ValueMap:
		keys := make([]string, 0, len(v.Map))
		for k := range v.Map {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ": " + valueText(v.Map[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	b, _ := json.Marshal(v.Lit)
	return string(b)
}

// statusClass is the CSS class of a status word (the word is always
// shown too: colour is never the only sign).
func statusClass(s string) string {
	switch s {
	case "succeeded", "approved", "approve", "reused":
		return "st-ok"
	case "failed", "rejected", "reject", "timed-out", "compensated":
		return "st-bad"
	case "running", "compensating":
		return "st-run"
	case "waiting-approval", "waiting-event", "waiting-decision", "waiting_decision":
		return "st-wait"
	case "cancelled", "skipped", "not-reached":
		return "st-off"
	}
	return "st-none"
}

// stepKey is a timeline entry's key: id, or id[item] inside a loop.
func stepKey(id string, item *int) string {
	if item == nil {
		return id
	}
	return fmt.Sprintf("%s[%d]", id, *item)
}
