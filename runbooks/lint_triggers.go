package runbooks

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/opsrunbook/runbook/plan"

	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/types"
)

// DefaultSignatureHeader carries a webhook's signature.
const DefaultSignatureHeader = "X-Signature-256"

var headerNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

func (l *linter) lintTriggers() {
	names := map[string]bool{}
	for i, t := range l.doc.Spec.Triggers.Items {
		path := plan.Path("spec.triggers").Index(i)
		switch {
		case t.Alertmanager != nil && t.Webhook != nil:
			l.r.errorf(CodeConflict, t.Pos, path, "a trigger is alertmanager or webhook, not both")
		case t.Alertmanager != nil:
			am := t.Alertmanager
			l.lintTriggerExprs(&am.Match, &am.Params, am.Pos, path.Field("alertmanager"), &exprScope{env: l.alertEnv, field: "a trigger"})
		case t.Webhook != nil:
			wh := t.Webhook
			wpath := path.Field("webhook")
			if wh.Name.Set {
				switch {
				case !runbookNameRe.MatchString(wh.Name.Value):
					l.r.errorf(CodeInvalidValue, wh.Name.Pos, wpath.Field("name"), "webhook name %q must be lowercase letters, digits and dashes, starting with a letter", wh.Name.Value)
				case names[wh.Name.Value]:
					l.r.errorf(CodeDuplicate, wh.Name.Pos, wpath.Field("name"), "duplicate webhook %q", wh.Name.Value)
				}
				names[wh.Name.Value] = true
			}
			if wh.Secret.Set && !l.secrets[wh.Secret.Value] {
				l.r.hinted(CodeUnknownSecret, wh.Secret.Pos, wpath.Field("secret"), "the key is a secret: declare it in spec.secrets",
					"secret %q is not declared in spec.secrets", wh.Secret.Value)
			}
			signed := l.lintSignedHeaders(wh, wpath)
			l.lintTriggerExprs(&wh.Match, &wh.Params, wh.Pos, wpath, &exprScope{env: l.webhookEnv, field: "a trigger"})
			l.lintHeaderReads(&wh.Match, wpath.Field("match"), signed)
			if inc := wh.Incident; inc != nil {
				ipath := wpath.Field("incident")
				for _, f := range []struct {
					name string
					s    *String
					t    *plan.Type
				}{{"key", &inc.Key, plan.StringType}, {"title", &inc.Title, plan.StringType}, {"severity", &inc.Severity, plan.StringType},
					{"service", &inc.Service, plan.StringType}, {"resolved", &inc.Resolved, plan.BoolType}} {
					if !f.s.Set {
						continue
					}
					if e, _ := l.checkExpr(f.s.Value, stringSite(f.s), ipath.Field(f.name), &exprScope{env: l.webhookEnv, field: "a trigger"}, f.t); e != nil {
						l.out.exprs[f.s] = e
					}
					l.lintHeaderReads(f.s, ipath.Field(f.name), signed)
				}
			}
			for j := range wh.Params.Entries {
				e := &wh.Params.Entries[j]
				l.lintHeaderReads(&e.Value, wpath.Field("params").Key(e.Key), signed)
			}
		default:
			l.r.errorf(CodeRequired, t.Pos, path, "trigger has no kind; set alertmanager or webhook")
		}
	}
}

// lintSignedHeaders checks the names a webhook's signature covers and
// returns them lower-cased.
func (l *linter) lintSignedHeaders(wh *WebhookTrigger, path plan.Path) map[string]bool {
	signed := map[string]bool{}
	sigHeader := strings.ToLower(or(wh.SignatureHeader.Value, DefaultSignatureHeader))
	for j, h := range wh.SignedHeaders.Items {
		hpath := path.Field("signedHeaders").Index(j)
		name := strings.ToLower(h.Value)
		switch {
		case !headerNameRe.MatchString(h.Value):
			l.r.errorf(CodeInvalidValue, h.Pos, hpath, "%q is not a header name (letters, digits, dashes and underscores)", h.Value)
		case name == sigHeader:
			l.r.errorf(CodeInvalidValue, h.Pos, hpath, "the signature header %s cannot be signed", h.Value)
		case signed[name]:
			l.r.errorf(CodeDuplicate, h.Pos, hpath, "duplicate signed header %q", h.Value)
		}
		signed[name] = true
	}
	return signed
}

// signedHeaders are a webhook's signed header names as the plan keeps
// them: lower-case, in the order the signature covers them.
func signedHeaders(wh *WebhookTrigger) []string {
	var out []string
	for _, h := range wh.SignedHeaders.Items {
		out = append(out, strings.ToLower(h.Value))
	}
	return out
}

// lintHeaderReads refuses an expression that reads a header the
// signature does not cover: an unsigned header is whatever the sender,
// or anyone replaying the request, puts there. Each read must name one
// header literally (headers.NAME, headers['name'], 'name' in headers).
func (l *linter) lintHeaderReads(s *String, path plan.Path, signed map[string]bool) {
	if !s.Set {
		return
	}
	pe := l.parse(s.Value)
	if pe.iss.Err() != nil {
		return // checkExpr has reported it
	}
	native := pe.ast.NativeRep()
	info := native.SourceInfo()
	site := stringSite(s)
	pos := func(id int64) plan.Pos {
		loc := info.GetStartLocation(id)
		return site.at(loc.Line(), loc.Column())
	}
	for _, ident := range celast.MatchDescendants(celast.NavigateAST(native), celast.KindMatcher(celast.IdentKind)) {
		if ident.AsIdent() != plan.VarHeaders {
			continue
		}
		name, at, ok := headerRead(ident)
		if !ok {
			l.r.hinted(CodeUnsignedHeader, pos(ident.ID()), path, "headers.NAME, headers['name'] or 'name' in headers",
				"read headers one at a time, by a literal name")
			continue
		}
		p := pos(at)
		if parent, _ := ident.Parent(); parent.Kind() == celast.SelectKind {
			// A selection (and has()) is located at its operand or dot:
			// point at the name after "headers.".
			p = pos(ident.ID())
			p.Col += len(plan.VarHeaders) + 1
		}
		switch {
		case name != strings.ToLower(name):
			l.r.hinted(CodeInvalidValue, p, path, fmt.Sprintf("headers['%s']", strings.ToLower(name)),
				"header names are lower-case in headers: %q never matches", name)
		case !signed[name]:
			l.r.hinted(CodeUnsignedHeader, p, path, "list it in the trigger's signedHeaders, so the signature covers it",
				"header %q is not signed: a trigger may read only the headers in signedHeaders", name)
		}
	}
}

// headerRead returns the header name a use of headers reads and the id
// of the expression that names it.
func headerRead(ident celast.NavigableExpr) (string, int64, bool) {
	parent, ok := ident.Parent()
	if !ok {
		return "", 0, false
	}
	switch parent.Kind() {
	case celast.SelectKind:
		return parent.AsSelect().FieldName(), parent.ID(), true
	case celast.CallKind:
		call := parent.AsCall()
		args := call.Args()
		if len(args) != 2 {
			return "", 0, false
		}
		lit := args[1]
		switch call.FunctionName() {
		case operators.Index, operators.OptIndex, operators.OptSelect:
			if args[0].ID() != ident.ID() {
				return "", 0, false
			}
		case operators.In:
			if args[1].ID() != ident.ID() {
				return "", 0, false
			}
			lit = args[0]
		default:
			return "", 0, false
		}
		if lit.Kind() != celast.LiteralKind {
			return "", 0, false
		}
		s, ok := lit.AsLiteral().(types.String)
		return string(s), lit.ID(), ok
	}
	return "", 0, false
}

// lintTriggerExprs checks a trigger's match and its params, which must
// give every required param without a default.
func (l *linter) lintTriggerExprs(match *String, params *Map[String], at plan.Pos, path plan.Path, sc *exprScope) {
	if match.Set {
		if e, _ := l.checkExpr(match.Value, stringSite(match), path.Field("match"), sc, plan.BoolType); e != nil {
			l.out.exprs[match] = e
		}
	}
	given := map[string]bool{}
	for j := range params.Entries {
		e := &params.Entries[j]
		epath := path.Field("params").Key(e.Key)
		given[e.Key] = true
		p := l.paramByName(e.Key)
		if p == nil {
			l.r.hinted(CodeUnknownParam, e.KeyPos, epath, plan.Suggest(e.Key, l.paramNames()), "unknown param %q", e.Key)
			continue
		}
		if p.Fixed {
			l.r.errorf(CodeNotAllowed, e.KeyPos, epath, "param %q is fixed by the runbook and cannot be set", e.Key)
			continue
		}
		if x, _ := l.checkExpr(e.Value.Value, stringSite(&e.Value), epath, sc, p.Type); x != nil {
			l.out.exprs[&e.Value] = x
		}
	}
	l.requireParams(given, params.Pos, at, path, "the trigger")
}
