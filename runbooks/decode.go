package runbooks

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/opsrunbook/runbook/plan"

	"gopkg.in/yaml.v3"
)

// The decoder maps yaml.v3 nodes onto the document types by reflection,
// reporting every unknown field, missing field and wrong kind at once.
// Field names, requiredness and docs come from struct tags, which the JSON
// Schema generator reads too, so the two never disagree.

type nodeDecoder interface {
	decodeNode(n *yaml.Node, d *decoder, path plan.Path)
}

// A node type that drifts from nodeDecoder would be decoded by reflection
// without a word; these keep the compiler watching.
var (
	_ nodeDecoder = (*String)(nil)
	_ nodeDecoder = (*Int)(nil)
	_ nodeDecoder = (*Number)(nil)
	_ nodeDecoder = (*Bool)(nil)
	_ nodeDecoder = (*Raw)(nil)
	_ nodeDecoder = (*List[String])(nil)
	_ nodeDecoder = (*Map[String])(nil)
)

type decoder struct {
	r *reporter
}

type fieldInfo struct {
	name     string
	index    int
	required bool
	doc      string
	enum     []string
}

type structInfo struct {
	fields []fieldInfo
	byName map[string]int // name -> position in fields
	pos    int            // index of the Pos field, or -1
}

var structInfos sync.Map // reflect.Type -> *structInfo

func infoOf(t reflect.Type) *structInfo {
	if si, ok := structInfos.Load(t); ok {
		return si.(*structInfo)
	}
	si := &structInfo{byName: map[string]int{}, pos: -1}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Name == "Pos" && f.Type == reflect.TypeOf(plan.Pos{}) {
			si.pos = i
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		si.byName[name] = len(si.fields)
		si.fields = append(si.fields, fieldInfo{
			name:     name,
			index:    i,
			required: f.Tag.Get("required") == "true",
			doc:      f.Tag.Get("doc"),
			enum:     splitList(f.Tag.Get("enum")),
		})
	}
	structInfos.Store(t, si)
	return si
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path plan.Path) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if v.CanAddr() {
		if nd, ok := v.Addr().Interface().(nodeDecoder); ok {
			nd.decodeNode(n, d, path)
			return
		}
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	default:
		panic(fmt.Sprintf("runbooks: no decoder for %s", v.Type()))
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path plan.Path) {
	si := infoOf(v.Type())
	if si.pos >= 0 {
		v.Field(si.pos).Set(reflect.ValueOf(posOf(n)))
	}
	if n.Kind != yaml.MappingNode {
		d.mismatch(n, path, "a mapping")
		return
	}
	seen := map[string]bool{}
	d.pairs(n, path, seen, func(key string, k, val *yaml.Node) {
		fpath := path.Key(key)
		idx, known := si.byName[key]
		if !known {
			names := make([]string, len(si.fields))
			for j, f := range si.fields {
				names[j] = f.name
			}
			d.r.hinted(CodeUnknownField, posOf(k), fpath, plan.Suggest(key, names), "unknown field %q", key)
			return
		}
		if isNull(val) {
			if si.fields[idx].required {
				d.r.errorf(CodeRequired, posOf(k), fpath, "%q needs a value", key)
			}
			return // an explicit null is the same as leaving the field out
		}
		fv := v.Field(si.fields[idx].index)
		d.decode(val, fv, fpath)
		if enum := si.fields[idx].enum; enum != nil {
			if s, ok := fv.Addr().Interface().(*String); ok && s.Set && !slices.Contains(enum, s.Value) {
				d.r.hinted(CodeInvalidValue, s.Pos, fpath, plan.Suggest(s.Value, enum), "%q is not one of %s", s.Value, strings.Join(enum, ", "))
			}
		}
	})
	for _, f := range si.fields {
		if f.required && !seen[f.name] {
			d.r.errorf(CodeRequired, posOf(n), path, "missing required field %q", f.name)
		}
	}
}

// key reads a mapping key, reporting non-string, merge and duplicate keys.
func (d *decoder) key(k *yaml.Node, path plan.Path, seen map[string]bool) (string, bool) {
	if k.Kind != yaml.ScalarNode {
		d.r.errorf(CodeTypeMismatch, posOf(k), path, "mapping keys must be strings")
		return "", false
	}
	if k.Tag == "!!merge" {
		d.r.errorf(CodeNotAllowed, posOf(k), path, "YAML merge keys (<<) are not supported; repeat the fields")
		return "", false
	}
	if seen[k.Value] {
		d.r.errorf(CodeDuplicate, posOf(k), path.Key(k.Value), "duplicate key %q", k.Value)
		return "", false
	}
	seen[k.Value] = true
	return k.Value, true
}

// scalar checks that n is a scalar with one of the given tags.
func (d *decoder) scalar(n *yaml.Node, path plan.Path, want string, tags ...string) bool {
	if n.Kind == yaml.ScalarNode {
		for _, t := range tags {
			if n.Tag == t {
				return true
			}
		}
	}
	d.mismatch(n, path, want)
	return false
}

func (d *decoder) mismatch(n *yaml.Node, path plan.Path, want string) {
	got := describeNode(n)
	hint := ""
	if n.Kind == yaml.ScalarNode && want == "a string" {
		hint = "quote the value to make it a string"
	}
	d.r.hinted(CodeTypeMismatch, posOf(n), path, hint, "expected %s, got %s", want, got)
}

func (l *List[T]) decodeNode(n *yaml.Node, d *decoder, path plan.Path) {
	l.Pos, l.Set = posOf(n), true
	if n.Kind != yaml.SequenceNode {
		l.bad = true
		d.mismatch(n, path, "a list")
		return
	}
	l.Items = make([]T, len(n.Content))
	for i, c := range n.Content {
		d.decode(c, reflect.ValueOf(&l.Items[i]).Elem(), path.Index(i))
	}
}

func (m *Map[T]) decodeNode(n *yaml.Node, d *decoder, path plan.Path) {
	m.Pos, m.Set = posOf(n), true
	d.pairs(n, path, map[string]bool{}, func(key string, k, val *yaml.Node) {
		e := Entry[T]{Key: key, KeyPos: posOf(k)}
		d.decode(val, reflect.ValueOf(&e.Value).Elem(), path.Key(key))
		m.Entries = append(m.Entries, e)
	})
}

// pairs calls fn for each key of a mapping node, reporting a node that is
// not a mapping and keys that are not plain, merged or repeated.
func (d *decoder) pairs(n *yaml.Node, path plan.Path, seen map[string]bool, fn func(key string, k, val *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		d.mismatch(n, path, "a mapping")
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if key, ok := d.key(k, path, seen); ok {
			fn(key, k, val)
		}
	}
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!int":
			return "an integer"
		case "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		case "!!null":
			return "null"
		case "!!str":
			return "a string"
		}
		return "a " + strings.TrimPrefix(n.Tag, "!!")
	}
	return "nothing"
}
