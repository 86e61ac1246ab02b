package activities

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"runtime/debug"
	"slices"
	"strings"
	"sync"

	"github.com/opsrunbook/runbook/plan"

	"go.temporal.io/sdk/temporal"
)

// MinSecretLen is the shortest secret value that is redacted. Masking
// shorter values would mask ordinary words and numbers, so a step that
// reads a shorter (non-empty) secret is refused instead: such a value
// can never reach a step, hence never needs masking.
const MinSecretLen = 6

// mask replaces secret values.
const mask = "***"

// Redactor masks a set of secret values, and their common encodings, in
// text. It is built once per set of values.
type Redactor struct {
	key    [sha256.Size]byte // identifies values
	values []string          // sorted, distinct, at least MinSecretLen bytes
	r      *strings.Replacer // nil when there is nothing to mask
}

// NewRedactor returns a redactor for values; those shorter than
// MinSecretLen are ignored.
func NewRedactor(values []string) *Redactor {
	var vs []string
	for _, v := range values {
		if len(v) >= MinSecretLen {
			vs = append(vs, v)
		}
	}
	slices.Sort(vs)
	vs = slices.Compact(vs)
	rd := &Redactor{key: valuesKey(vs), values: vs}
	var forms []string
	for _, v := range vs {
		forms = append(forms, secretForms(v)...)
	}
	forms = append(forms, lineForms(forms)...)
	slices.Sort(forms)
	forms = slices.Compact(forms)
	if len(forms) == 0 {
		return rd
	}
	// A Replacer takes the first pair, in argument order, that matches at
	// a position: longest first, so an encoding is masked whole.
	slices.SortStableFunc(forms, func(a, b string) int { return len(b) - len(a) })
	pairs := make([]string, 0, 2*len(forms))
	for _, f := range forms {
		pairs = append(pairs, f, mask)
	}
	rd.r = strings.NewReplacer(pairs...)
	return rd
}

func valuesKey(sorted []string) [sha256.Size]byte {
	h := sha256.New()
	for _, v := range sorted {
		h.Write([]byte(v))
		h.Write([]byte{0})
	}
	return [sha256.Size]byte(h.Sum(nil))
}

// secretForms are the ways a script commonly prints a value: as is, upper
// or lower case, base64 (standard and URL alphabets, padded and raw; also
// of the value with a newline, as `echo "$S" | base64` encodes it, and
// wrapped at 76 columns as base64(1) prints it), hex in either case, and
// URL-encoded (query and path escaping).
func secretForms(v string) []string {
	b := []byte(v)
	forms := []string{v, strings.ToUpper(v), strings.ToLower(v),
		hex.EncodeToString(b), strings.ToUpper(hex.EncodeToString(b)),
		url.QueryEscape(v), url.PathEscape(v)}
	for _, data := range [][]byte{b, append(slices.Clone(b), '\n')} {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			forms = append(forms, enc.EncodeToString(data))
		}
		if s := base64.StdEncoding.EncodeToString(data); len(s) > 76 {
			forms = append(forms, wrap(s, 76))
		}
	}
	return forms
}

// lineForms are the lines of the multi-line forms (a PEM key, base64
// wrapped at 76 columns), without their surrounding blanks, of at least
// MinSecretLen bytes. A step's log is redacted a flush at a time, and a
// value printed across a flush is split between two of them: masking each
// line as a form of its own masks such a value's long lines wherever they
// appear (its lines shorter than MinSecretLen, not).
func lineForms(forms []string) []string {
	var out []string
	for _, f := range forms {
		if !strings.Contains(f, "\n") {
			continue
		}
		for _, line := range strings.Split(f, "\n") {
			if line = strings.TrimSpace(line); len(line) >= MinSecretLen {
				out = append(out, line)
			}
		}
	}
	return out
}

func wrap(s string, n int) string {
	var b strings.Builder
	for len(s) > n {
		b.WriteString(s[:n])
		b.WriteByte('\n')
		s = s[n:]
	}
	b.WriteString(s)
	return b.String()
}

// has reports whether v is one of the values.
func (rd *Redactor) has(v string) bool {
	_, ok := slices.BinarySearch(rd.values, v)
	return ok
}

// with returns a redactor that also masks vs (rd itself if it does).
func (rd *Redactor) with(vs ...string) *Redactor {
	for _, v := range vs {
		if len(v) >= MinSecretLen && !rd.has(v) {
			return NewRedactor(append(slices.Clone(rd.values), vs...))
		}
	}
	return rd
}

// String masks every secret in s.
func (rd *Redactor) String(s string) string {
	if rd == nil || rd.r == nil {
		return s
	}
	return rd.r.Replace(s)
}

// Value masks every string inside v (map keys too), keeping the types of
// what JSON decodes to; other values go through JSON, as they would on
// their way to Temporal.
func (rd *Redactor) Value(v any) any {
	if rd == nil || rd.r == nil {
		return v
	}
	switch x := v.(type) {
	case nil, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64, json.Number:
		return v
	case string:
		return rd.String(x)
	case []string:
		out := make([]string, len(x))
		for i, s := range x {
			out[i] = rd.String(s)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = rd.Value(e)
		}
		return out
	case map[string]string:
		out := make(map[string]string, len(x))
		for k, e := range x {
			out[rd.String(k)] = rd.String(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[rd.String(k)] = rd.Value(e)
		}
		return out
	}
	b, err := json.Marshal(v)
	if err != nil {
		return mask // cannot be inspected, so not shown
	}
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		return mask
	}
	return rd.Value(generic)
}

// Output masks secrets in an action's outputs.
func (rd *Redactor) Output(out plan.ActionOutput) plan.ActionOutput {
	if out.Outputs != nil {
		out.Outputs = rd.Value(out.Outputs).(map[string]any)
	}
	return out
}

// Error masks secrets in an error's message, its cause and its details,
// keeping its type and retryability. An error with nothing to mask is
// returned as it is (a cancellation stays one).
func (rd *Redactor) Error(err error) error {
	if err == nil || rd == nil || rd.r == nil {
		return err
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app == err {
		opts := temporal.ApplicationErrorOptions{NonRetryable: app.NonRetryable(), NextRetryDelay: app.NextRetryDelay(), Category: app.Category()}
		changed := false
		if cause := app.Unwrap(); cause != nil {
			msg := rd.String(cause.Error())
			changed = msg != cause.Error()
			opts.Cause = cause
			if changed {
				opts.Cause = errors.New(msg)
			}
		}
		if app.HasDetails() {
			var details any
			if app.Details(&details) != nil {
				details = mask
			}
			opts.Details, changed = []any{rd.Value(details)}, true
		}
		msg := rd.String(app.Message())
		if !changed && msg == app.Message() {
			return err
		}
		return temporal.NewApplicationErrorWithOptions(msg, app.Type(), opts)
	}
	if msg := rd.String(err.Error()); msg != err.Error() {
		return errors.New(msg)
	}
	return err
}

// callSecrets is what one action call masks: every value the worker's
// source held when the call began, plus any the call read (a source can
// change while a call runs).
type callSecrets struct {
	mu sync.Mutex
	rd *Redactor
}

func (c *callSecrets) add(v string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rd = c.rd.with(v)
}

func (c *callSecrets) redactor() *Redactor {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rd
}

// callSecretsKey keys the call's secrets in its context.
type callSecretsKey struct{}

// secretsOf is what the call in ctx masks; withRedaction sets it.
func secretsOf(ctx context.Context) *callSecrets {
	c, _ := ctx.Value(callSecretsKey{}).(*callSecrets)
	return c
}

// redact masks secrets in text an action sends or logs before it returns
// (a log line, a notification).
func redact(ctx context.Context, s string) string { return secretsOf(ctx).redactor().String(s) }

// redactValue is redact for structured values.
func redactValue(ctx context.Context, v any) any { return secretsOf(ctx).redactor().Value(v) }

// currentRedactor is the redactor for every value the worker's secret
// source holds now; it is rebuilt only when the values change.
func (e *Env) currentRedactor() (*Redactor, error) {
	var values []string
	if e.Secrets != nil {
		vs, err := e.Secrets.Values()
		if err != nil {
			return nil, err
		}
		values = vs
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.redactor != nil {
		vs := slices.Clone(values)
		slices.Sort(vs)
		vs = slices.Compact(slices.DeleteFunc(vs, func(v string) bool { return len(v) < MinSecretLen }))
		if valuesKey(vs) == e.redactor.key {
			return e.redactor, nil
		}
	}
	e.redactor = NewRedactor(values)
	return e.redactor, nil
}

// withRedaction is the one place an action's result leaves the worker:
// it masks every secret value the worker's source holds (and any the
// call read) in the outputs and the error, whichever action it is. A
// worker whose secrets cannot be listed runs no action, since what the
// action returned could not be redacted.
func (e *Env) withRedaction(h Handler) Handler {
	return func(ctx context.Context, in plan.ActionInput) (out plan.ActionOutput, err error) {
		rd, err := e.currentRedactor()
		if err != nil {
			return plan.ActionOutput{}, temporal.NewApplicationError("secrets cannot be listed for redaction, so no action runs: "+err.Error(), plan.ErrSecretSource)
		}
		calls := &callSecrets{rd: rd}
		ctx = context.WithValue(ctx, callSecretsKey{}, calls)
		defer func() {
			if p := recover(); p != nil {
				out, err = plan.ActionOutput{}, temporal.NewApplicationErrorWithOptions(fmt.Sprintf("action panicked: %v", p), plan.ErrPanic,
					temporal.ApplicationErrorOptions{Details: []any{string(debug.Stack())}})
			}
			rd := calls.redactor()
			out, err = rd.Output(out), rd.Error(err)
		}()
		return h(ctx, in)
	}
}
