package codec

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
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
	if _, err := rotated.Codec().Decode([]*commonpb.Payload{bad}); !errors.Is(err, ErrUndecryptable) || errors.Is(err, ErrUnknownKey) || err.Error() != `codec: payload encrypted with key "k1" does not decrypt: it was altered or the key file is not that key` {
		t.Errorf("altered payload: %v", err)
	}
	// Another key under the same id does not open it either.
	if _, err := keysOf(t, []string{"k1"}, map[string][]byte{"k1": raw["k3"]}).Codec().Decode([]*commonpb.Payload{p}); !errors.Is(err, ErrUndecryptable) || err.Error() != `codec: payload encrypted with key "k1" does not decrypt: it was altered or the key file is not that key` {
		t.Errorf("another key under the id: %v", err)
	}
	short := &commonpb.Payload{Metadata: p.Metadata, Data: p.Data[:5]}
	if _, err := rotated.Codec().Decode([]*commonpb.Payload{short}); !errors.Is(err, ErrUndecryptable) || err.Error() != `codec: payload encrypted with key "k1" is too short` {
		t.Errorf("cut-short payload: %v", err)
	}
	// Sealed properly, but what is inside is not a payload.
	aead := rotated.aeads["k1"]
	nonce := make([]byte, aead.NonceSize())
	junk := &commonpb.Payload{Metadata: p.Metadata, Data: aead.Seal(nonce, nonce, []byte{0xff, 0xff, 0xff}, []byte("k1"))}
	if _, err := rotated.Codec().Decode([]*commonpb.Payload{junk}); !errors.Is(err, ErrUndecryptable) || !strings.HasPrefix(err.Error(), "codec: proto:") {
		t.Errorf("not a payload inside: %v", err)
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

// A failure to decode a payload, however wrapped, goes into the history
// as a non-retryable CodecKey error with its message (encrypted); an
// application error, or any other error, keeps what it says.
func TestDecodeFailuresAreNotRetryable(t *testing.T) {
	raw := map[string][]byte{"k1": key(t), "k2": key(t)}
	p, err := keysOf(t, []string{"k2"}, raw).DataConverter().ToPayloads("input")
	if err != nil {
		t.Fatal(err)
	}
	k := keysOf(t, []string{"k1"}, raw)
	var s string
	decodeErr := k.DataConverter().FromPayloads(p, &s)
	if !errors.Is(decodeErr, ErrUnknownKey) {
		t.Fatalf("decode: %v", decodeErr)
	}
	// What the SDK makes of an activity input it cannot decode.
	wrapped := fmt.Errorf("unable to decode the activity function input payload with error: %w for function name: %v", decodeErr, "log")
	undecryptable := fmt.Errorf("wrapped: %w", undecryptable(`codec: payload encrypted with key "k1" is too short`, nil))
	fc := k.FailureConverter()
	for _, tt := range []struct {
		err          error
		typ, message string
		nonRetryable bool
	}{
		{wrapped, ErrorType, `unable to decode the activity function input payload with error: codec: payload encrypted with key "k2", which this process does not have (keys: k1): unknown encryption key for function name: log`, true},
		{undecryptable, ErrorType, `wrapped: codec: payload encrypted with key "k1" is too short`, true},
		{temporal.NewApplicationError("retry me", "Mine", decodeErr), "Mine", "retry me", false},
		{errors.New("plain"), "", "plain", false},
	} {
		f := fc.ErrorToFailure(tt.err)
		if f.GetMessage() != "Encoded failure" || f.GetEncodedAttributes() == nil {
			t.Errorf("%v: failure in the clear: %v", tt.err, f)
		}
		var app *temporal.ApplicationError
		back := fc.FailureToError(f)
		if !errors.As(back, &app) || app.Message() != tt.message || app.NonRetryable() != tt.nonRetryable || (tt.typ != "" && app.Type() != tt.typ) {
			t.Errorf("%v: read back %#v", tt.err, back)
		}
	}
	if NonRetryable(nil) != nil {
		t.Error("NonRetryable(nil) is not nil")
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
