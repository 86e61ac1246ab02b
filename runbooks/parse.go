package runbooks

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/opsrunbook/runbook/plan"

	"gopkg.in/yaml.v3"
)

// Limits of the input. MaxExpandedNodes bounds the YAML nodes a document
// may stand for once its aliases are expanded, so that a few lines cannot
// expand into millions of values (the "billion laughs").
const (
	MaxSourceSize    = 1 << 20
	MaxExpandedNodes = 100_000
)

var yamlLine = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// Parse reads one runbook document. It reports YAML syntax errors and every
// structural problem (unknown or missing fields, wrong kinds) at once.
// The Document is nil only when the YAML itself cannot be read.
func Parse(file string, src []byte) (*Document, Diagnostics) {
	r := &reporter{file: file}
	doc := &Document{file: file}
	if !decodeFile(r, src, reflect.ValueOf(doc).Elem(), "runbook") {
		return nil, r.diags
	}
	return doc, r.diags
}

// decodeFile decodes the one YAML document of src into dst (a document
// struct), reporting to r; false when the YAML itself cannot be read.
func decodeFile(r *reporter, src []byte, dst reflect.Value, what string) bool {
	if len(src) > MaxSourceSize {
		r.errorf(CodeSyntax, plan.Pos{Line: 1, Col: 1}, "", "file is %d bytes; the limit is %d", len(src), MaxSourceSize)
		return false
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			r.errorf(CodeSyntax, plan.Pos{Line: 1, Col: 1}, "", "file is empty")
		} else {
			r.add(SeverityError, CodeSyntax, yamlErrorPos(err, src), "", yamlHint(err), yamlErrorMessage(err))
		}
		return false
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		r.errorf(CodeSyntax, posOf(&extra), "", "a file holds one %s; found a second YAML document", what)
	} else if !errors.Is(err, io.EOF) {
		r.errorf(CodeSyntax, yamlErrorPos(err, src), "", "%s", yamlErrorMessage(err))
	}
	if len(root.Content) == 0 || isNull(root.Content[0]) {
		r.errorf(CodeSyntax, plan.Pos{Line: 1, Col: 1}, "", "file is empty")
		return false
	}
	if budget := MaxExpandedNodes; !withinBudget(&root, &budget) {
		r.errorf(CodeSyntax, plan.Pos{Line: 1, Col: 1}, "", "the document expands to more than %d YAML values through its aliases", MaxExpandedNodes)
		return false
	}
	d := &decoder{r: r}
	d.decode(root.Content[0], dst, "")
	return true
}

// parserProblems are the messages of yaml.v3's parser (not its scanner).
// yaml.v3 reports a parser error at its 0-based mark but a scanner error at
// its 1-based one, so only the former need one line added.
var parserProblems = []string{
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"did not find expected '-' indicator",
	"did not find expected <document start>",
	"did not find expected <stream-start>",
	"did not find expected key",
	"did not find expected node content",
	"found duplicate %TAG directive",
	"found duplicate %YAML directive",
	"found incompatible YAML document",
	"found undefined tag handle",
}

func yamlErrorPos(err error, src []byte) plan.Pos {
	m := yamlLine.FindStringSubmatch(err.Error())
	if m == nil || m[1] == "" {
		return plan.Pos{Line: 1, Col: 1}
	}
	line, _ := strconv.Atoi(m[1])
	for _, p := range parserProblems {
		if m[2] == p {
			line++
			break
		}
	}
	if strings.Contains(m[2], "tab character") {
		return tabPos(src, line)
	}
	return plan.Pos{Line: line, Col: 1}
}

// tabPos finds the first tab in the indentation of a line at or after
// line: yaml.v3 names the line where the enclosing scalar began.
func tabPos(src []byte, line int) plan.Pos {
	lines := strings.Split(string(src), "\n")
	for i := line - 1; i >= 0 && i < len(lines); i++ {
		indent := len(lines[i]) - len(strings.TrimLeft(lines[i], " \t"))
		if j := strings.IndexByte(lines[i][:indent], '\t'); j >= 0 {
			return plan.Pos{Line: i + 1, Col: j + 1}
		}
	}
	return plan.Pos{Line: line, Col: 1}
}

func yamlErrorMessage(err error) string {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		return "invalid YAML: " + m[2]
	}
	return "invalid YAML: " + err.Error()
}

func yamlHint(err error) string {
	if strings.Contains(err.Error(), "tab character") {
		return "indent with spaces, not tabs"
	}
	return ""
}

// withinBudget counts n's nodes with aliases expanded, stopping as soon as
// the budget is spent, so the count itself stays cheap.
func withinBudget(n *yaml.Node, budget *int) bool {
	if *budget--; *budget < 0 {
		return false
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return withinBudget(n.Alias, budget)
	}
	for _, c := range n.Content {
		if !withinBudget(c, budget) {
			return false
		}
	}
	return true
}
