package codec

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
)

func key(t *testing.T) []byte {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func keysOf(t *testing.T, ids []string, raw map[string][]byte) *Keys {
	t.Helper()
	k, err := NewKeys(ids, raw)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Encrypted with the first key, decrypted with any; after a rotation the
// old payloads still decrypt, new ones use the new key; a process without
// the key, or an altered payload, fails clearly; plain payloads pass.
func TestCodecRotation(t *testing.T) {
	raw := map[string][]byte{"k1": key(t), "k2": key(t), "k3": key(t)}
	dc := keysOf(t, []string{"k1"}, raw).DataConverter()
	p, err := dc.ToPayload(map[string]any{"secret": "plaintext-canary"})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(p.Data, []byte("plaintext-canary")) || string(p.Metadata["encoding"]) != Encoding || string(p.Metadata[MetadataKey]) != "k1" {
		t.Fatalf("payload not encrypted: %v", p)
	}
	rotated := keysOf(t, []string{"k2", "k1"}, raw)
	var got map[string]any
	if err := rotated.DataConverter().FromPayload(p, &got); err != nil || got["secret"] != "plaintext-canary" {
		t.Fatalf("old payload after rotation: %v %v", got, err)
	}
	p2, _ := rotated.DataConverter().ToPayload("new")
	if string(p2.Metadata[MetadataKey]) != "k2" {
		t.Errorf("after rotation the payload is encrypted with %s", p2.Metadata[MetadataKey])
	}
	_, err = keysOf(t, []string{"k3"}, raw).Codec().Decode([]*commonpb.Payload{p})
	if !errors.Is(err, ErrUnknownKey) || err.Error() != `codec: payload encrypted with key "k1", which this process does not have (keys: k3): unknown encryption key` {
		t.Errorf("wrong key: %v", err)
	}
	bad := &commonpb.Payload{Metadata: p.Metadata, Data: append([]byte(nil), p.Data...)}
	bad.Data[len(bad.Data)-1] ^= 1
	if _, err := rotated.Codec().Decode([]*commonpb.Payload{bad}); err == nil || err.Error() != `codec: payload encrypted with key "k1" does not decrypt: it was altered or the key file is not that key` {
		t.Errorf("altered payload: %v", err)
	}
	plain, _ := converter.GetDefaultDataConverter().ToPayload("before encryption")
	if out, err := rotated.Codec().Decode([]*commonpb.Payload{plain}); err != nil || out[0] != plain {
		t.Errorf("a plain payload: %v %v", out, err)
	}
}

// Failures' messages go into the history encrypted too.
func TestFailureMessagesAreEncrypted(t *testing.T) {
	k := keysOf(t, []string{"k1"}, map[string][]byte{"k1": key(t)})
	f := k.FailureConverter().ErrorToFailure(errors.New("the output was plaintext-canary"))
	if strings.Contains(f.GetMessage(), "plaintext-canary") || f.GetEncodedAttributes() == nil {
		t.Errorf("failure in the clear: %v", f)
	}
	if back := k.FailureConverter().FailureToError(f); !strings.Contains(back.Error(), "plaintext-canary") {
		t.Errorf("failure read back: %v", back)
	}
}

func TestParseKeys(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good", hex.EncodeToString(key(t))+"\n")
	short := write("short", "abcd")
	k, err := ParseKeys("new=" + good + ", old=" + good)
	if err != nil || k.Current() != "new" {
		t.Fatalf("keys: %v %v", k, err)
	}
	for _, tt := range []struct{ spec, want string }{
		{"", "codec keys: no key given"},
		{"k1", `codec keys: "k1" is not id=FILE`},
		{"k 1=" + good, `codec keys: key id "k 1" must be 1 to 64 letters, digits, '.', '_' or '-'`},
		{"k1=" + good + ",k1=" + good, `codec keys: key id "k1" is given twice`},
		{"k1=" + short, "codec keys: key k1 in " + short + ": want 32 bytes as 64 hex digits or base64 (openssl rand -hex 32)"},
		{"k1=" + filepath.Join(dir, "missing"), "codec keys: key k1: open " + filepath.Join(dir, "missing") + ": no such file or directory"},
	} {
		if _, err := ParseKeys(tt.spec); err == nil || err.Error() != tt.want {
			t.Errorf("ParseKeys(%q) = %v, want %s", tt.spec, err, tt.want)
		}
	}
}
