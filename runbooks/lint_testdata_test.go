package runbooks_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/runbooks"
)

// The lint cases in testdata/lint are runbooks whose expected diagnostics
// are written as YAML comments on the lines they concern, as go/analysis's
// analysistest writes `// want`:
//
//	- {id: a, sleep: 0s}   # want: invalid-value@22 spec.steps[0].sleep "duration must be positive"
//
// Each expectation is [warning] CODE[@COL] [PATH] "message substring", the
// message read with its hint as "message (hint)"; a line may hold several. A file is built alone; a directory is built as one
// set (BuildSet), each file against its own comments. Every diagnostic must
// be wanted and every want must be met.

// want is one expected diagnostic.
type want struct {
	line, col int // col 0: any column
	warning   bool
	code      runbooks.Code
	path      string // "": any path
	msg       string
	src       string // the comment, for failure messages
}

var wantCode = regexp.MustCompile(`^([a-z-]+)(?:@([0-9]+))?`)

// parseWants reads the # want: comments of a file.
func parseWants(src string) ([]want, error) {
	var out []want
	for i, line := range strings.Split(src, "\n") {
		_, rest, ok := strings.Cut(line, "# want:")
		if !ok {
			continue
		}
		for rest = strings.TrimSpace(rest); rest != ""; rest = strings.TrimSpace(rest) {
			w := want{line: i + 1}
			start := rest
			if r, ok := strings.CutPrefix(rest, "warning "); ok {
				w.warning, rest = true, strings.TrimSpace(r)
			}
			m := wantCode.FindStringSubmatch(rest)
			if m == nil {
				return nil, fmt.Errorf("line %d: want a code at %q", i+1, rest)
			}
			w.code = runbooks.Code(m[1])
			if m[2] != "" {
				w.col, _ = strconv.Atoi(m[2])
			}
			rest = strings.TrimSpace(rest[len(m[0]):])
			if !strings.HasPrefix(rest, `"`) {
				w.path, rest, _ = strings.Cut(rest, " ")
				rest = strings.TrimSpace(rest)
			}
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return nil, fmt.Errorf("line %d: want a quoted message at %q", i+1, rest)
			}
			w.msg, _ = strconv.Unquote(q)
			rest = rest[len(q):]
			w.src = strings.TrimSpace(start[:len(start)-len(rest)])
			out = append(out, w)
		}
	}
	return out, nil
}

// matches tells whether d is the diagnostic w wants; the message is
// matched with its hint, as "message (hint)".
func (w want) matches(d runbooks.Diagnostic) bool {
	text := d.Message
	if d.Hint != "" {
		text += " (" + d.Hint + ")"
	}
	return d.Pos.Line == w.line && (w.col == 0 || d.Pos.Col == w.col) &&
		(d.Severity == runbooks.SeverityWarning) == w.warning && d.Code == w.code &&
		(w.path == "" || string(d.Path) == w.path) && strings.Contains(text, w.msg)
}

// checkWants fails for every diagnostic not wanted and every want not met.
func checkWants(t *testing.T, src string, ds runbooks.Diagnostics) {
	t.Helper()
	wants, err := parseWants(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if !slices.Contains(runbooks.Codes, d.Code) {
			t.Errorf("%s has code %q, which runbooks.Codes does not list", d, d.Code)
		}
		i := slices.IndexFunc(wants, func(w want) bool { return w.matches(d) })
		if i < 0 {
			t.Errorf("unexpected diagnostic [%s] %s", d.Code, d)
			continue
		}
		wants = slices.Delete(wants, i, i+1)
	}
	for _, w := range wants {
		t.Errorf("line %d: no diagnostic for want: %s", w.line, w.src)
	}
}

func TestLintTestdata(t *testing.T) {
	entries, err := os.ReadDir("testdata/lint")
	if err != nil {
		t.Fatal(err)
	}
	opts := runbooks.Options{Actions: activities.Catalog()}
	for _, e := range entries {
		name := filepath.Join("testdata/lint", e.Name())
		if !e.IsDir() {
			t.Run(e.Name(), func(t *testing.T) {
				src, err := os.ReadFile(name)
				if err != nil {
					t.Fatal(err)
				}
				_, ds, _ := runbooks.Build(e.Name(), src, opts)
				checkWants(t, string(src), ds)
			})
			continue
		}
		t.Run(e.Name(), func(t *testing.T) {
			srcs, err := runbooks.ReadSources(name)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range runbooks.BuildSet(srcs, opts) {
				t.Run(filepath.Base(r.File), func(t *testing.T) {
					checkWants(t, string(srcs[i].Data), r.Diagnostics)
				})
			}
		})
	}
}

// TestLintTestdataCoversCodes keeps a case for every code beside the
// others: a code no file wants is a class of problem nobody has seen fire.
func TestLintTestdataCoversCodes(t *testing.T) {
	var all strings.Builder
	err := filepath.WalkDir("testdata/lint", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		all.Write(b)
		all.WriteByte('\n')
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	wants, err := parseWants(all.String())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[runbooks.Code]bool{}
	for _, w := range wants {
		seen[w.code] = true
	}
	for _, c := range runbooks.Codes {
		if !seen[c] && c != runbooks.CodeInternal { // internal is a linter bug, not a runbook's
			t.Errorf("no case in testdata/lint wants %s", c)
		}
	}
}

func TestParseWants(t *testing.T) {
	got, err := parseWants("a: 1 # want: duplicate@3 spec.x \"twice\" warning no-effect \"has no \\\"effect\\\"\"\nb: 2\n")
	if err != nil {
		t.Fatal(err)
	}
	wantList := []want{
		{line: 1, col: 3, code: runbooks.CodeDuplicate, path: "spec.x", msg: "twice", src: `duplicate@3 spec.x "twice"`},
		{line: 1, warning: true, code: runbooks.CodeNoEffect, msg: `has no "effect"`, src: `warning no-effect "has no \"effect\""`},
	}
	if !slices.Equal(got, wantList) {
		t.Errorf("parseWants = %+v, want %+v", got, wantList)
	}
	if _, err := parseWants("a: 1 # want: duplicate twice\n"); err == nil {
		t.Error("a want without a quoted message was accepted")
	}
}
