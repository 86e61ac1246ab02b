package store

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"gorm.io/gorm"
)

// The sizes of the columns are their models' gorm size tags, read here
// and nowhere else: Postgres refuses a longer value (varchar(n) counts
// characters) and SQLite would keep it, so every insert and update of a
// model is checked against them before any SQL is sent, on both.

// TooLongError is a record with values longer than their columns hold.
// The API answers 422 with Fields as details.
type TooLongError struct {
	Model  string   // e.g. "Run"
	Fields []string // each "triggerDetail: 612 characters, at most 500"
}

func (e *TooLongError) Error() string {
	return "values longer than the database holds: " + strings.Join(e.Fields, "; ")
}

// sizedField is a string field of a model with a size tag.
type sizedField struct {
	index  []int
	goName string
	name   string // the field's JSON name
	size   int
}

var sizedFields sync.Map // reflect.Type -> []sizedField

func sizesOf(t reflect.Type) []sizedField {
	if v, ok := sizedFields.Load(t); ok {
		return v.([]sizedField)
	}
	var out []sizedField
	for _, f := range reflect.VisibleFields(t) {
		if f.Anonymous || (f.Type.Kind() != reflect.String && (f.Type.Kind() != reflect.Pointer || f.Type.Elem().Kind() != reflect.String)) {
			continue
		}
		size := 0
		for _, part := range strings.Split(f.Tag.Get("gorm"), ";") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(part), "size:"); ok {
				size, _ = strconv.Atoi(v)
			}
		}
		if size == 0 {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			name = strings.ToLower(f.Name[:1]) + f.Name[1:]
		}
		out = append(out, sizedField{index: f.Index, goName: f.Name, name: name, size: size})
	}
	sizedFields.Store(t, out)
	return out
}

// Size is the characters the column of model's field holds (model is a
// model value or pointer, field its Go name); 0 when unbounded. It panics
// on a field without a size tag: a caller names a sized column.
func Size(model any, field string) int {
	for _, f := range sizesOf(reflect.Indirect(reflect.ValueOf(model)).Type()) {
		if f.goName == field {
			return f.size
		}
	}
	panic(fmt.Sprintf("store: %T.%s has no size tag", model, field))
}

// Length is how Size counts: in characters.
func Length(s string) int { return utf8.RuneCountInString(s) }

// CheckSizes returns a *TooLongError when a string field of record (a
// model, a pointer to one, or a slice of them) is longer than its column
// holds, nil otherwise.
func CheckSizes(record any) error {
	return checkValue(reflect.ValueOf(record))
}

func checkValue(v reflect.Value) error {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if err := checkValue(v.Index(i)); err != nil {
				return err
			}
		}
		return nil
	case reflect.Struct:
	default:
		return nil
	}
	var long []string
	for _, f := range sizesOf(v.Type()) {
		fv := v.FieldByIndex(f.index)
		if fv.Kind() == reflect.Pointer {
			if fv.IsNil() {
				continue
			}
			fv = fv.Elem()
		}
		if n := Length(fv.String()); n > f.size {
			long = append(long, fmt.Sprintf("%s: %d characters, at most %d", f.name, n, f.size))
		}
	}
	if long != nil {
		return &TooLongError{Model: v.Type().Name(), Fields: long}
	}
	return nil
}

// checkSizes refuses a create or update of a record with a value longer
// than its column (updates by column name and map are not checked: the
// store makes them from values it holds).
func checkSizes(db *gorm.DB) {
	if db.Error != nil || db.Statement.Dest == nil {
		return
	}
	if err := CheckSizes(db.Statement.Dest); err != nil {
		_ = db.AddError(err)
	}
}
