package runbooks

import "fmt"

// DefaultSignatureHeader carries a webhook's HMAC-SHA256 signature.
const DefaultSignatureHeader = "X-Signature-256"

func (l *linter) lintTriggers() {
	names := map[string]bool{}
	for i, t := range l.doc.Spec.Triggers.Items {
		path := fmt.Sprintf("spec.triggers[%d]", i)
		switch {
		case t.Alertmanager != nil && t.Webhook != nil:
			l.r.errorf(t.Pos, path, "a trigger is alertmanager or webhook, not both")
		case t.Alertmanager != nil:
			am := t.Alertmanager
			l.lintTriggerExprs(&am.Match, &am.Params, am.Pos, path+".alertmanager", &exprScope{env: l.alertEnv, field: "a trigger"})
		case t.Webhook != nil:
			wh := t.Webhook
			wpath := path + ".webhook"
			if wh.Name.Set {
				switch {
				case !runbookNameRe.MatchString(wh.Name.Value):
					l.r.errorf(wh.Name.Pos, wpath+".name", "webhook name %q must be lowercase letters, digits and dashes, starting with a letter", wh.Name.Value)
				case names[wh.Name.Value]:
					l.r.errorf(wh.Name.Pos, wpath+".name", "duplicate webhook %q", wh.Name.Value)
				}
				names[wh.Name.Value] = true
			}
			if wh.Secret.Set && !l.secrets[wh.Secret.Value] {
				l.r.hinted(wh.Secret.Pos, wpath+".secret", "the key is a secret: declare it in spec.secrets",
					"secret %q is not declared in spec.secrets", wh.Secret.Value)
			}
			l.lintTriggerExprs(&wh.Match, &wh.Params, wh.Pos, wpath, &exprScope{env: l.webhookEnv, field: "a trigger"})
		default:
			l.r.errorf(t.Pos, path, "trigger has no kind; set alertmanager or webhook")
		}
	}
}

// lintTriggerExprs checks a trigger's match and its params, which must
// give every required param without a default.
func (l *linter) lintTriggerExprs(match *String, params *Map[String], at Pos, path string, sc *exprScope) {
	if match.Set {
		if e, _ := l.checkExpr(match.Value, stringSite(match), path+".match", sc, BoolType); e != nil {
			l.out.exprs[match] = e
		}
	}
	given := map[string]bool{}
	for j := range params.Entries {
		e := &params.Entries[j]
		epath := joinPath(path+".params", e.Key)
		given[e.Key] = true
		p := l.paramByName(e.Key)
		if p == nil {
			l.r.hinted(e.KeyPos, epath, suggest(e.Key, l.paramNames()), "unknown param %q", e.Key)
			continue
		}
		if p.Fixed {
			l.r.errorf(e.KeyPos, epath, "param %q is fixed by the runbook and cannot be set", e.Key)
			continue
		}
		if x, _ := l.checkExpr(e.Value.Value, stringSite(&e.Value), epath, sc, p.Type); x != nil {
			l.out.exprs[&e.Value] = x
		}
	}
	l.requireParams(given, params.Pos, at, path, "the trigger")
}
