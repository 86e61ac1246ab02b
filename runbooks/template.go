package runbooks

import (
	"fmt"
	"strings"
)

// A template is a string holding ${{ CEL }} parts. A string that is exactly
// one template keeps the expression's type; otherwise the parts are rendered
// as text and joined. "$${{" writes a literal "${{".

const (
	tmplOpen  = "${{"
	tmplClose = "}}"
)

// tmplPart is literal text or an expression with its byte offset in the string.
type tmplPart struct {
	text   string
	expr   string
	offset int
	isExpr bool
}

// hasTemplate reports whether s holds a ${{ }} template.
func hasTemplate(s string) bool { return strings.Contains(s, tmplOpen) }

// parseTemplate splits s into text and expression parts.
func parseTemplate(s string) ([]tmplPart, error) {
	var parts []tmplPart
	var text strings.Builder
	i := 0
	for i < len(s) {
		j := strings.Index(s[i:], tmplOpen)
		if j < 0 {
			text.WriteString(s[i:])
			break
		}
		j += i
		if j > 0 && s[j-1] == '$' {
			text.WriteString(s[i : j-1])
			text.WriteString(tmplOpen)
			i = j + len(tmplOpen)
			continue
		}
		text.WriteString(s[i:j])
		start := j + len(tmplOpen)
		end := closeIndex(s, start)
		if end < 0 {
			return nil, fmt.Errorf("template at offset %d is not closed with }}", j)
		}
		raw := s[start:end]
		expr := strings.TrimSpace(raw)
		if expr == "" {
			return nil, fmt.Errorf("empty template ${{ }}")
		}
		if text.Len() > 0 {
			parts = append(parts, tmplPart{text: text.String()})
			text.Reset()
		}
		lead := len(raw) - len(strings.TrimLeft(raw, " \t\n"))
		parts = append(parts, tmplPart{expr: expr, offset: start + lead, isExpr: true})
		i = end + len(tmplClose)
	}
	if text.Len() > 0 {
		parts = append(parts, tmplPart{text: text.String()})
	}
	return parts, nil
}

// closeIndex finds the "}}" closing a template, skipping CEL string
// literals and the braces of map literals.
func closeIndex(s string, from int) int {
	var quote byte
	depth := 0
	for i := from; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '{':
			depth++
		case c == '}' && depth > 0:
			depth--
		case c == '}' && i+1 < len(s) && s[i+1] == '}':
			return i
		}
	}
	return -1
}
