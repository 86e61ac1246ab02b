package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/opsrunbook/runbook/store"
)

// apiProblem is the API's {error, details[]} answer, shown to the user as
// the reason an action was refused.
type apiProblem struct {
	Status  int    `json:"-"`
	Message string `json:"error"`
	Details []any  `json:"details"`
}

func (p *apiProblem) Error() string { return p.Message }

// DetailText is each detail as text: a string as it is, anything else as
// compact JSON.
func (p *apiProblem) DetailText() []string {
	out := make([]string, 0, len(p.Details))
	for _, d := range p.Details {
		if s, ok := d.(string); ok {
			out = append(out, s)
			continue
		}
		b, _ := json.Marshal(d)
		out = append(out, string(b))
	}
	return out
}

// recorder keeps the API's answer to an in-process call.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}

// apiRequest is an in-process request to the API as u: the identity
// rides in the context (store.WithIdentity), which the API's
// authentication takes in place of a bearer token.
func apiRequest(r *http.Request, u *user, method, path string, body any) (*http.Request, error) {
	var rd io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(store.WithIdentity(r.Context(), u.id), method, path, rd)
	if err != nil {
		return nil, err
	}
	req.RemoteAddr = r.RemoteAddr
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// call sends method path (with body as JSON, when not nil) to the API as
// u and decodes a 2xx answer into out. A 4xx or 5xx answer is an
// *apiProblem.
func (c *Console) call(r *http.Request, u *user, method, path string, body, out any) error {
	req, err := apiRequest(r, u, method, path, body)
	if err != nil {
		return err
	}
	rec := &recorder{header: http.Header{}}
	c.opts.API.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.status >= 400 {
		p := &apiProblem{Status: rec.status}
		if err := json.Unmarshal(rec.body.Bytes(), p); err != nil || p.Message == "" {
			p.Message = fmt.Sprintf("the API answered %d", rec.status)
		}
		return p
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
		return fmt.Errorf("the API's answer to %s %s: %w", method, path, err)
	}
	return nil
}

// apiPath joins escaped path segments under /api/v1.
func apiPath(segments ...string) string {
	var b strings.Builder
	b.WriteString("/api/v1")
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}
