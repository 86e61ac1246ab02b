package runbooks

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"

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
	if len(src) > MaxSourceSize {
		r.errorf(Pos{1, 1}, "", "file is %d bytes; the limit is %d", len(src), MaxSourceSize)
		return nil, r.diags
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			r.errorf(Pos{1, 1}, "", "file is empty")
		} else {
			r.add(Error, yamlErrorPos(err), "", yamlHint(err), yamlErrorMessage(err))
		}
		return nil, r.diags
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		r.errorf(posOf(&extra), "", "a file holds one runbook; found a second YAML document")
	} else if !errors.Is(err, io.EOF) {
		r.errorf(yamlErrorPos(err), "", "%s", yamlErrorMessage(err))
	}
	doc := &Document{file: file}
	if len(root.Content) == 0 || isNull(root.Content[0]) {
		r.errorf(Pos{1, 1}, "", "file is empty")
		return nil, r.diags
	}
	if budget := MaxExpandedNodes; !withinBudget(&root, &budget) {
		r.errorf(Pos{1, 1}, "", "the document expands to more than %d YAML values through its aliases", MaxExpandedNodes)
		return nil, r.diags
	}
	d := &decoder{r: r}
	d.decode(root.Content[0], reflect.ValueOf(doc).Elem(), "")
	return doc, r.diags
}

func yamlErrorPos(err error) Pos {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil && m[1] != "" {
		line, _ := strconv.Atoi(m[1])
		return Pos{Line: line, Col: 1}
	}
	return Pos{Line: 1, Col: 1}
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
