package plan

import (
	"errors"
	"reflect"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// Go maps iterate in random order, and CEL macros over maps (map, filter,
// exists_one...) follow the iteration order, so a map given to CEL as is
// could make a replayed workflow compute something else. Values handed to
// expressions are converted first: maps iterate by sorted keys.

// orderedMap is a CEL map whose iteration follows its sorted keys.
type orderedMap struct {
	traits.Mapper
	keys []string
}

func (m *orderedMap) Iterator() traits.Iterator {
	return &keyIterator{keys: m.keys}
}

// keyIterator walks string keys in order.
type keyIterator struct {
	keys []string
	next int
}

func (it *keyIterator) HasNext() ref.Val { return types.Bool(it.next < len(it.keys)) }

func (it *keyIterator) Next() ref.Val {
	k := it.keys[it.next]
	it.next++
	return types.String(k)
}

func (it *keyIterator) ConvertToNative(reflect.Type) (any, error) {
	return nil, errors.New("an iterator has no native form")
}

func (it *keyIterator) ConvertToType(ref.Type) ref.Val {
	return types.NewErr("an iterator has no other type")
}
func (it *keyIterator) Equal(other ref.Val) ref.Val { return types.Bool(it == other) }
func (it *keyIterator) Type() ref.Type              { return types.IteratorType }
func (it *keyIterator) Value() any                  { return nil }

// celInput converts a JSON-like value for CEL, ordering every map.
func celInput(v any) any {
	return rebuildPure(v, func(v any) any {
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		return &orderedMap{Mapper: types.NewStringInterfaceMap(types.DefaultTypeAdapter, m), keys: SortedKeys(m)}
	})
}
