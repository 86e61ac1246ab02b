package plan

import (
	"fmt"
	"strings"
)

// Path is a field path into a runbook document, as diagnostics print it:
// spec.steps[2].with.url. It is a string so that it marshals and compares as
// one; build it with Field, Index and Key, so every path quotes keys alike.
type Path string

// Field appends schema field names, which are always plain: Field("exit", "message").
func (p Path) Field(names ...string) Path {
	for _, n := range names {
		if p == "" {
			p = Path(n)
		} else {
			p += Path("." + n)
		}
	}
	return p
}

// Index appends a list index: spec.steps[2].
func (p Path) Index(i int) Path { return Path(fmt.Sprintf("%s[%d]", p, i)) }

// Key appends a mapping key the runbook chose, quoting it unless it is a plain name.
func (p Path) Key(k string) Path {
	if !isPlainKey(k) {
		return Path(fmt.Sprintf("%s[%q]", p, k))
	}
	return p.Field(k)
}

// Join appends a path relative to p, such as "[2]" or "a.b".
func (p Path) Join(sub Path) Path {
	switch {
	case sub == "":
		return p
	case strings.HasPrefix(string(sub), "["):
		return p + sub
	}
	return p.Field(string(sub))
}

func (p Path) String() string { return string(p) }

func isPlainKey(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range k {
		if !(c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
