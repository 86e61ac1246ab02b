package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/opsrunbook/runbook/plan"

	"github.com/opsrunbook/runbook/activities"
)

// Limits of webhook signatures.
const (
	// SignatureWindow is how far a delivery's signed timestamp may be
	// from the server's clock, either side.
	SignatureWindow = 5 * time.Minute
	// MinKeySize is the shortest signing key the API verifies with.
	MinKeySize = 16
	// MaxDeliveryID bounds the signed delivery id.
	MaxDeliveryID = 100
)

// ErrBadSignature is a delivery refused for its signature: missing,
// malformed, old-form, wrong or stale. Its message says which.
var ErrBadSignature = errors.New("webhook signature refused")

// ErrNoKey is a webhook the server cannot verify: its key is unset or
// too short. Nothing the sender does fixes it.
var ErrNoKey = errors.New("webhook signing key unusable")

// deliveryError is a refused delivery with how to fix it.
type deliveryError struct {
	kind    error // ErrBadSignature or ErrNoKey
	message string
	hint    string
}

func (e *deliveryError) Error() string { return e.message }
func (e *deliveryError) Unwrap() error { return e.kind }

func refuse(kind error, hint, format string, args ...any) error {
	return &deliveryError{kind: kind, message: fmt.Sprintf(format, args...), hint: hint}
}

const signHint = "sign with t=<unix seconds>,id=<delivery id>,v1=<hex HMAC-SHA256(key, t.id.signed-headers.body)>; see docs/runbook-format.md, Webhook signatures"

var (
	deliveryIDRe = regexp.MustCompile(`^[A-Za-z0-9_:-]+$`)
	bareHexRe    = regexp.MustCompile(`^(?i:sha256=)?[0-9a-fA-F]{64}$`)
)

// Delivery is a webhook request whose signature verified.
type Delivery struct {
	Hook     string
	ID       string // the sender's delivery id, as signed
	SignedAt time.Time
	// Digest is the hex SHA-256 of t.id.body: the same request sent
	// again has the same one.
	Digest  string
	Body    []byte
	Headers map[string]any // only the signed headers, lower-case names
}

// Sign returns the signature header value a sender computes for body at
// t with delivery id, covering headers (name, value pairs in the order
// the trigger's signedHeaders lists them).
func Sign(key, body []byte, t time.Time, id string, headers ...string) string {
	var signed []string
	h := http.Header{}
	for i := 0; i+1 < len(headers); i += 2 {
		signed = append(signed, strings.ToLower(headers[i]))
		h.Add(headers[i], headers[i+1])
	}
	ts := strconv.FormatInt(t.Unix(), 10)
	msg, _ := signingString(ts, id, signed, h, body)
	return "t=" + ts + ",id=" + id + ",v1=" + mac(key, msg)
}

func mac(key, msg []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return hex.EncodeToString(m.Sum(nil))
}

// signingString is what v1 is the HMAC of:
// t "." id "." (name ":" value "\n", per signed header) "." body.
func signingString(t, id string, signed []string, h http.Header, body []byte) ([]byte, error) {
	var b strings.Builder
	b.WriteString(t + "." + id + ".")
	for _, name := range signed {
		vs := h.Values(name)
		switch len(vs) {
		case 0:
			return nil, fmt.Errorf("signed header %s is missing", name)
		case 1:
		default:
			return nil, fmt.Errorf("signed header %s is sent %d times", name, len(vs))
		}
		b.WriteString(name + ":" + vs[0] + "\n")
	}
	b.WriteString(".")
	return append([]byte(b.String()), body...), nil
}

// VerifyWebhook checks a delivery to trigger t (of hook name) with the
// key from keys at now: the signature header is t=UNIX,id=ID,v1=HEX
// (v1 may repeat, for key rotation), v1 is the HMAC-SHA256 of the signing
// string, and t is within SignatureWindow of now. Old-form signatures
// (sha256=HMAC of the body alone) are refused: a captured one replays
// forever.
func VerifyWebhook(t *plan.Trigger, body []byte, header http.Header, keys activities.SecretSource, now time.Time) (*Delivery, error) {
	name := t.Name
	key, err := signingKey(t, keys)
	if err != nil {
		return nil, err
	}
	values := header.Values(t.SignatureHeader)
	switch {
	case len(values) == 0 || strings.TrimSpace(values[0]) == "":
		return nil, refuse(ErrBadSignature, signHint, "webhook %s: missing signature header %s", name, t.SignatureHeader)
	case len(values) > 1:
		return nil, refuse(ErrBadSignature, signHint, "webhook %s: signature header %s is sent %d times", name, t.SignatureHeader, len(values))
	}
	raw := strings.TrimSpace(values[0])
	if bareHexRe.MatchString(raw) {
		return nil, refuse(ErrBadSignature, signHint,
			"webhook %s: old-form signature (an HMAC of the body alone) is refused: it can be replayed", name)
	}
	ts, id, sigs, err := parseSignature(raw)
	if err != nil {
		return nil, refuse(ErrBadSignature, signHint, "webhook %s: malformed %s: %v", name, t.SignatureHeader, err)
	}
	msg, err := signingString(ts, id, t.SignedHeaders, header, body)
	if err != nil {
		return nil, refuse(ErrBadSignature, "send every header of the trigger's signedHeaders once", "webhook %s: %v", name, err)
	}
	want := mac(key, msg)
	ok := false
	for _, s := range sigs {
		ok = ok || hmac.Equal([]byte(strings.ToLower(s)), []byte(want))
	}
	if !ok {
		signed := "none"
		if len(t.SignedHeaders) > 0 {
			signed = strings.Join(t.SignedHeaders, ", ")
		}
		return nil, refuse(ErrBadSignature, signHint+"; signed headers: "+signed, "webhook %s: signature does not verify", name)
	}
	unix, _ := strconv.ParseInt(ts, 10, 64)
	at := time.Unix(unix, 0).UTC()
	switch age := now.Sub(at); {
	case age > SignatureWindow:
		return nil, refuse(ErrBadSignature, "sign every delivery when sending it; a retry is signed again with a new t",
			"webhook %s: stale delivery: signed %s ago, more than %s", name, age.Truncate(time.Second), SignatureWindow)
	case -age > SignatureWindow:
		return nil, refuse(ErrBadSignature, "check the sender's clock",
			"webhook %s: delivery signed %s in the future, more than %s", name, (-age).Truncate(time.Second), SignatureWindow)
	}
	headers := map[string]any{}
	for _, h := range t.SignedHeaders {
		headers[h] = header.Get(h)
	}
	sum := sha256.Sum256(append([]byte(ts+"."+id+"."), body...))
	return &Delivery{Hook: name, ID: id, SignedAt: at, Digest: hex.EncodeToString(sum[:]), Body: body, Headers: headers}, nil
}

// signingKey reads t's key, refusing empty and short ones: a guessable
// key signs anything.
func signingKey(t *plan.Trigger, keys activities.SecretSource) ([]byte, error) {
	hint := fmt.Sprintf("an operator sets the API's webhook key %s (RUNBOOK_WEBHOOK_SECRET_%s or RUNBOOK_WEBHOOK_SECRETS_DIR/%s), at least %d bytes", t.Secret, t.Secret, t.Secret, MinKeySize)
	if keys == nil {
		return nil, refuse(ErrNoKey, hint, "webhook %s cannot verify deliveries: the server has no webhook keys", t.Name)
	}
	key, err := keys.Secret(t.Secret)
	switch {
	case err != nil:
		return nil, refuse(ErrNoKey, hint, "webhook %s cannot verify deliveries: its signing key %s is not set", t.Name, t.Secret)
	case key == "":
		return nil, refuse(ErrNoKey, hint, "webhook %s cannot verify deliveries: its signing key %s is empty", t.Name, t.Secret)
	case len(key) < MinKeySize:
		return nil, refuse(ErrNoKey, hint, "webhook %s cannot verify deliveries: its signing key %s is %d bytes, shorter than %d", t.Name, t.Secret, len(key), MinKeySize)
	}
	return []byte(key), nil
}

// parseSignature splits t=UNIX,id=ID,v1=HEX[,v1=HEX...]; other fields
// are ignored, so that later schemes can be sent next to v1.
func parseSignature(raw string) (ts, id string, sigs []string, err error) {
	seen := map[string]bool{}
	for _, part := range strings.Split(raw, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return "", "", nil, fmt.Errorf("%q is not key=value", part)
		}
		switch k {
		case "t", "id":
			if seen[k] {
				return "", "", nil, fmt.Errorf("%s= is given twice", k)
			}
			seen[k] = true
			if k == "t" {
				ts = v
			} else {
				id = v
			}
		case "v1":
			sigs = append(sigs, v)
		}
	}
	switch {
	case ts == "":
		return "", "", nil, errors.New("no t= timestamp")
	case !isDigits(ts) || len(ts) > 12:
		return "", "", nil, fmt.Errorf("t=%s is not a Unix time in seconds", ts)
	case id == "":
		return "", "", nil, errors.New("no id= delivery id")
	case len(id) > MaxDeliveryID || !deliveryIDRe.MatchString(id):
		return "", "", nil, fmt.Errorf("id= must be 1 to %d letters, digits, '_', ':' or '-'", MaxDeliveryID)
	case len(sigs) == 0:
		return "", "", nil, errors.New("no v1= signature")
	case len(sigs) > 8:
		return "", "", nil, errors.New("more than 8 v1= signatures")
	}
	for _, s := range sigs {
		if b, err := hex.DecodeString(s); err != nil || len(b) != sha256.Size {
			return "", "", nil, errors.New("v1= must be 64 hex digits")
		}
	}
	return ts, id, sigs, nil
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
