package plan

import (
	"fmt"
	"strings"
)

// Kind names a value type of the format: params, action inputs and outputs.
type Kind string

// The value kinds.
const (
	KindString    Kind = "string"
	KindInt       Kind = "int"
	KindNumber    Kind = "number"
	KindBool      Kind = "bool"
	KindDuration  Kind = "duration"
	KindTimestamp Kind = "timestamp"
	KindList      Kind = "list"
	KindMap       Kind = "map"    // string keys, Elem values
	KindObject    Kind = "object" // named Fields
	KindAny       Kind = "any"
)

// Type is a value type. It is plain data so that plans carry it as JSON.
type Type struct {
	Kind   Kind    `json:"kind"`
	Elem   *Type   `json:"elem,omitempty"`
	Fields []Field `json:"fields,omitempty"`
}

// Field is a named, typed member of an object: an action input or output.
type Field struct {
	Name        string   `json:"name"`
	Type        *Type    `json:"type"`
	Description string   `json:"description,omitempty"`
	Required    bool     `json:"required,omitempty"`
	Default     any      `json:"default,omitempty"`
	Enum        []string `json:"enum,omitempty"`
	// Role says what an input does with its value beyond reading it, so
	// that lint can keep params that a run sets out of programs and paths.
	Role Role `json:"role,omitempty"`
}

// Role is what an action input does with its value; see the lint rules
// in docs/runbook-format.md ("Params choose values, not code").
type Role string

// The input roles.
const (
	RoleNone    Role = ""
	RoleCommand Role = "command" // argv: the first item is the program run
	RoleCode    Role = "code"    // text run as a shell script
	RoleSQL     Role = "sql"     // SQL text
	RolePath    Role = "path"    // a file or directory the action reads, writes or runs in
	RoleURL     Role = "url"     // a URL the action connects to
	RoleEnv     Role = "env"     // a process environment: its names reach the loader and shells
)

// Shared scalar types.
var (
	StringType    = &Type{Kind: KindString}
	IntType       = &Type{Kind: KindInt}
	NumberType    = &Type{Kind: KindNumber}
	BoolType      = &Type{Kind: KindBool}
	DurationType  = &Type{Kind: KindDuration}
	TimestampType = &Type{Kind: KindTimestamp}
	AnyType       = &Type{Kind: KindAny}
)

// ListOf returns the type of a list of elem.
func ListOf(elem *Type) *Type { return &Type{Kind: KindList, Elem: elem} }

// MapOf returns the type of a map from strings to elem.
func MapOf(elem *Type) *Type { return &Type{Kind: KindMap, Elem: elem} }

// ObjectOf returns an object type with the given fields.
func ObjectOf(fields ...Field) *Type { return &Type{Kind: KindObject, Fields: fields} }

// Field returns the named field of an object type.
func (t *Type) Field(name string) (Field, bool) {
	for _, f := range t.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// FieldNames lists an object's field names in declaration order.
func (t *Type) FieldNames() []string {
	names := make([]string, len(t.Fields))
	for i, f := range t.Fields {
		names[i] = f.Name
	}
	return names
}

func (t *Type) String() string {
	if t == nil {
		return "any"
	}
	switch t.Kind {
	case KindList:
		return fmt.Sprintf("list<%s>", t.Elem)
	case KindMap:
		return fmt.Sprintf("map<string, %s>", t.Elem)
	case KindObject:
		if len(t.Fields) == 0 {
			return "object"
		}
		parts := make([]string, len(t.Fields))
		for i, f := range t.Fields {
			parts[i] = f.Name + ": " + f.Type.String()
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return string(t.Kind)
}

// ParamType turns a param's declared type and items into a Type.
func ParamType(kind, items string) *Type {
	switch Kind(kind) {
	case KindList:
		elem := AnyType
		if items != "" {
			elem = ParamType(items, "")
		}
		return ListOf(elem)
	case KindMap:
		return MapOf(AnyType)
	case KindString, KindInt, KindNumber, KindBool, KindDuration:
		return &Type{Kind: Kind(kind)}
	}
	return AnyType
}
