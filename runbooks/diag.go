package runbooks

import (
	"fmt"
	"sort"
	"strings"

	"github.com/opsrunbook/runbook/plan"
)

// Severity tells whether a problem stops a runbook from compiling.
type Severity int

const (
	// SeverityError problems make a runbook invalid.
	SeverityError Severity = iota
	// SeverityWarning problems are reported but do not stop compilation.
	SeverityWarning
)

func (s Severity) String() string {
	if s == SeverityWarning {
		return "warning"
	}
	return "error"
}

// MarshalText renders the severity as "error" or "warning".
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads "error" or "warning".
func (s *Severity) UnmarshalText(b []byte) error {
	switch string(b) {
	case "error":
		*s = SeverityError
	case "warning":
		*s = SeverityWarning
	default:
		return fmt.Errorf("unknown severity %q", b)
	}
	return nil
}

// Diagnostic is one problem found in a runbook file.
type Diagnostic struct {
	File     string    `json:"file"`
	Pos      plan.Pos  `json:"pos"`
	Path     plan.Path `json:"path,omitempty"` // field path, e.g. spec.steps[2].with.url
	Message  string    `json:"message"`
	Hint     string    `json:"hint,omitempty"`
	Severity Severity  `json:"severity"`
	Code     Code      `json:"code"`
}

// String renders the diagnostic as file:line:col: path: message (hint).
func (d Diagnostic) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d:%d: ", d.File, d.Pos.Line, d.Pos.Col)
	if d.Severity == SeverityWarning {
		b.WriteString("warning: ")
	}
	if d.Path != "" {
		b.WriteString(string(d.Path))
		b.WriteString(": ")
	}
	b.WriteString(d.Message)
	if d.Hint != "" {
		b.WriteString(" (")
		b.WriteString(d.Hint)
		b.WriteString(")")
	}
	return b.String()
}

// Diagnostics is a list of problems, sorted by position once complete.
type Diagnostics []Diagnostic

// HasErrors reports whether any diagnostic is an error.
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Errors returns only the error-level diagnostics.
func (ds Diagnostics) Errors() Diagnostics { return ds.filter(SeverityError) }

// Warnings returns only the warning-level diagnostics.
func (ds Diagnostics) Warnings() Diagnostics { return ds.filter(SeverityWarning) }

func (ds Diagnostics) filter(s Severity) Diagnostics {
	var out Diagnostics
	for _, d := range ds {
		if d.Severity == s {
			out = append(out, d)
		}
	}
	return out
}

// Sort orders diagnostics by file, line and column, keeping insertion order for ties.
func (ds Diagnostics) Sort() {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i], ds[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		return a.Pos.Col < b.Pos.Col
	})
}

// Error renders every diagnostic, one per line.
func (ds Diagnostics) Error() string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// InvalidError is returned when a runbook has error-level diagnostics.
// Callers branch on it with errors.As to list every problem.
type InvalidError struct {
	File        string
	Diagnostics Diagnostics
}

func (e *InvalidError) Error() string {
	n := len(e.Diagnostics.Errors())
	noun := "problems"
	if n == 1 {
		noun = "problem"
	}
	return fmt.Sprintf("runbook %s is invalid (%d %s):\n%s", e.File, n, noun, e.Diagnostics.Error())
}

// reporter collects diagnostics for one file.
type reporter struct {
	file  string
	diags Diagnostics
}

func (r *reporter) errorf(code Code, pos plan.Pos, path plan.Path, format string, args ...any) {
	r.add(SeverityError, code, pos, path, "", fmt.Sprintf(format, args...))
}

func (r *reporter) warnf(code Code, pos plan.Pos, path plan.Path, format string, args ...any) {
	r.add(SeverityWarning, code, pos, path, "", fmt.Sprintf(format, args...))
}

// hinted reports an error with a hint such as "did you mean `timeout`?".
func (r *reporter) hinted(code Code, pos plan.Pos, path plan.Path, hint, format string, args ...any) {
	r.add(SeverityError, code, pos, path, hint, fmt.Sprintf(format, args...))
}

func (r *reporter) add(s Severity, code Code, pos plan.Pos, path plan.Path, hint, msg string) {
	r.diags = append(r.diags, Diagnostic{File: r.file, Pos: pos, Path: path, Message: msg, Hint: hint, Severity: s, Code: code})
}
