// Package attest seals what the API sends into a run — approval votes and
// posted events — with an Ed25519 signature the run verifies. The API holds
// the private key; a run knows only the public key it was started with, so
// a process that reaches Temporal but not the API (a shell step, a holder
// of the workers' credentials, the Web UI) cannot forge a vote.
package attest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// Window is how far a seal's time may lie from the run's clock, either way.
// Together with the nonce a run remembers, it bounds replays.
const Window = 5 * time.Minute

// Kinds of sealed messages; the kind is signed, so a vote cannot pass for an
// event.
const (
	KindVote  = "vote"
	KindEvent = "event"
	// KindDecision is a decision on a step that failed under onStepFailure.
	KindDecision = "decision"
)

// Seal is a signed message: Body is the exact JSON that was signed, so the
// run verifies the bytes and decodes them afterwards (no canonical form).
type Seal struct {
	Body      []byte `json:"body"`
	Signature []byte `json:"signature"`
}

// Header is the part of every sealed body that binds it to one run and one
// moment.
type Header struct {
	Kind  string    `json:"kind"`
	Run   string    `json:"run"`
	Nonce string    `json:"nonce"`
	At    time.Time `json:"at"`
}

// Errors of Open; callers branch on them to refuse with a reason.
var (
	ErrUnsigned = errors.New("the message is not signed by the API")
	ErrForged   = errors.New("the signature does not verify")
	ErrStale    = errors.New("the signature is outside its time window")
	ErrWrongRun = errors.New("the message was signed for another run or kind")
)

// Signer signs with the API's private key.
type Signer struct{ key ed25519.PrivateKey }

// NewSigner returns a signer for a 64-byte Ed25519 private key.
func NewSigner(key ed25519.PrivateKey) (*Signer, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("attest: want a %d-byte Ed25519 key, have %d bytes", ed25519.PrivateKeySize, len(key))
	}
	return &Signer{key: key}, nil
}

// GenerateKey makes a new private key.
func GenerateKey() (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	return priv, err
}

// ReadKeyFile reads a private key kept as 64 hex digits (a 32-byte seed,
// as `openssl rand -hex 32` makes) or 128 (seed and public key).
func ReadKeyFile(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("vote key: %w", err)
	}
	raw, err := hex.DecodeString(strings.TrimSpace(string(b)))
	switch {
	case err != nil:
		return nil, fmt.Errorf("vote key %s: not hex: %w", path, err)
	case len(raw) == ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(raw), nil
	case len(raw) == ed25519.PrivateKeySize:
		return ed25519.PrivateKey(raw), nil
	}
	return nil, fmt.Errorf("vote key %s: want 64 or 128 hex digits, have %d", path, 2*len(raw))
}

// PublicKey is what runs verify with, hex-encoded as it travels in a run's
// input.
func (s *Signer) PublicKey() string {
	return hex.EncodeToString(s.key.Public().(ed25519.PublicKey))
}

// Seal signs body (a struct embedding Header) after filling the header:
// kind, run, a fresh nonce and now.
func (s *Signer) Seal(kind, run string, now time.Time, body Body) (*Seal, error) {
	var n [16]byte
	if _, err := rand.Read(n[:]); err != nil {
		return nil, err
	}
	*body.header() = Header{Kind: kind, Run: run, Nonce: hex.EncodeToString(n[:]), At: now.UTC()}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("attest: %w", err)
	}
	return &Seal{Body: b, Signature: ed25519.Sign(s.key, b)}, nil
}

// Body is a pointer to a struct that embeds Header.
type Body interface{ header() *Header }

func (h *Header) header() *Header { return h }

// Open verifies a seal under publicKey (hex) and decodes its body into v,
// checking that it was signed for this kind and run and that its time lies
// within Window of now. It does no I/O, so a workflow may call it.
func Open(publicKey string, s *Seal, kind, run string, now time.Time, v Body) (*Header, error) {
	if s == nil || len(s.Signature) == 0 {
		return nil, ErrUnsigned
	}
	pub, err := hex.DecodeString(publicKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("attest: the run's public key is malformed")
	}
	if !ed25519.Verify(ed25519.PublicKey(pub), s.Body, s.Signature) {
		return nil, ErrForged
	}
	if err := Decode(s, v); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrForged, err)
	}
	h := v.header()
	if h.Kind != kind || h.Run != run || h.Nonce == "" {
		return nil, ErrWrongRun
	}
	if d := now.Sub(h.At); d > Window || d < -Window {
		return nil, ErrStale
	}
	return h, nil
}

// Decode decodes a seal's body without verifying it: for a message Open
// has already accepted.
func Decode(s *Seal, v Body) error {
	if s == nil {
		return ErrUnsigned
	}
	return json.Unmarshal(s.Body, v)
}
