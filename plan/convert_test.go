package plan

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestValueConversions pins what the shared conversions do to one value of
// every kind, nested: through JSON and back, and into plain JSON.
func TestValueConversions(t *testing.T) {
	ts := time.Date(2026, 12, 1, 2, 0, 0, 500, time.UTC)
	v := map[string]any{
		"d": 90 * time.Minute, "t": ts, "i": int64(3), "f": 2.5, "s": "x", "b": true, "n": nil,
		"l": []any{time.Hour, map[string]any{"t": ts}}, "tagLike": map[string]any{"$duration": int64(5)},
	}
	b, err := json.Marshal(EncodeVars(v))
	if err != nil {
		t.Fatal(err)
	}
	const wantJSON = `{"b":true,"d":{"$duration":"1h30m"},"f":2.5,"i":3,"l":[{"$duration":"1h"},{"t":{"$timestamp":"2026-12-01T02:00:00.0000005Z"}}],"n":null,"s":"x","t":{"$timestamp":"2026-12-01T02:00:00.0000005Z"},"tagLike":{"$duration":5}}`
	if string(b) != wantJSON {
		t.Errorf("encoded:\n%s\nwant\n%s", b, wantJSON)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	got, err := DecodeVars(back)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(map[string]any(got), v) {
		t.Errorf("round trip:\n%#v\nwant\n%#v", got, v)
	}
	plain, _ := json.Marshal(JSONValue(v))
	const wantPlain = `{"b":true,"d":"1h30m","f":2.5,"i":3,"l":["1h",{"t":"2026-12-01T02:00:00.0000005Z"}],"n":null,"s":"x","t":"2026-12-01T02:00:00.0000005Z","tagLike":{"$duration":5}}`
	if string(plain) != wantPlain {
		t.Errorf("plain:\n%s\nwant\n%s", plain, wantPlain)
	}
	if _, err := DecodeVars(map[string]any{"x": map[string]any{"$duration": "soon"}}); err == nil || err.Error()[:3] != "x: " {
		t.Errorf("a bad tag: %v, want an error naming x", err)
	}
}
