package attest_test

import (
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsrunbook/runbook/attest"
)

type note struct {
	attest.Header `json:"seal"`
	Text          string `json:"text"`
}

func TestOpen(t *testing.T) {
	key, _ := attest.GenerateKey()
	api, _ := attest.NewSigner(key)
	otherKey, _ := attest.GenerateKey()
	other, _ := attest.NewSigner(otherKey)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	seal := func(s *attest.Signer, kind, run string, at time.Time) *attest.Seal {
		x, err := s.Seal(kind, run, at, &note{Text: "hi"})
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	tampered := seal(api, attest.KindVote, "r1", now)
	tampered.Body[len(tampered.Body)-3] ^= 1
	cases := []struct {
		name string
		seal *attest.Seal
		want error
	}{
		{"valid", seal(api, attest.KindVote, "r1", now), nil},
		{"4m59s early", seal(api, attest.KindVote, "r1", now.Add(-attest.Window+time.Second)), nil},
		{"5m01s late", seal(api, attest.KindVote, "r1", now.Add(attest.Window+time.Second)), attest.ErrStale},
		{"stale", seal(api, attest.KindVote, "r1", now.Add(-time.Hour)), attest.ErrStale},
		{"no seal", nil, attest.ErrUnsigned},
		{"another key", seal(other, attest.KindVote, "r1", now), attest.ErrForged},
		{"tampered body", tampered, attest.ErrForged},
		{"another run", seal(api, attest.KindVote, "r2", now), attest.ErrWrongRun},
		{"another kind", seal(api, attest.KindEvent, "r1", now), attest.ErrWrongRun},
	}
	for _, c := range cases {
		var got note
		h, err := attest.Open(api.PublicKey(), c.seal, attest.KindVote, "r1", now, &got)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
		if err == nil && (got.Text != "hi" || h.Nonce == "" || len(h.Nonce) != 32) {
			t.Errorf("%s: opened %+v", c.name, got)
		}
	}
	if _, err := attest.Open("zz", seal(api, attest.KindVote, "r1", now), attest.KindVote, "r1", now, &note{}); err == nil {
		t.Error("a malformed public key opened a seal")
	}
}

func TestReadKeyFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	seed := strings.Repeat("07", 32)
	key, err := attest.ReadKeyFile(write("seed", seed+"\n"))
	if err != nil || hex.EncodeToString(key.Seed()) != seed {
		t.Fatalf("seed file: %v", err)
	}
	full, err := attest.ReadKeyFile(write("full", hex.EncodeToString(key)))
	if err != nil || !full.Equal(key) {
		t.Fatalf("full key file: %v", err)
	}
	for _, bad := range []struct{ text, want string }{
		{"abc", "not hex"},
		{"abcd", "want 64 or 128 hex digits, have 4"},
	} {
		if _, err := attest.ReadKeyFile(write("bad", bad.text)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: %v, want %q", bad.text, err, bad.want)
		}
	}
}
