// Package codec encrypts what runs put in Temporal's history: every
// payload (params, step outputs, votes, approval inputs, query answers)
// and every failure's message, with AES-256-GCM. Several keys may be
// configured so they can be rotated: the first encrypts, any decrypts,
// named by the key id each payload carries.
package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	failurepb "go.temporal.io/api/failure/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
)

// Metadata of an encrypted payload.
const (
	Encoding     = "binary/encrypted"
	MetadataKey  = "encryption-key-id"
	encodingMeta = converter.MetadataEncoding
)

// ErrUnknownKey is a payload encrypted with a key this process does not
// have.
var ErrUnknownKey = errors.New("unknown encryption key")

// ErrUndecryptable is a payload encrypted with a key id this process has
// that does not open with that key: altered, cut short, encrypted with
// another key under the same id, or not a payload once decrypted.
var ErrUndecryptable = errors.New("payload does not decrypt")

// ErrorType is the type of the non-retryable application error
// FailureConverter makes of a failure to decode a payload (ErrUnknownKey,
// ErrUndecryptable): no attempt can succeed until the keys change.
const ErrorType = "CodecKey"

// decodeError is a decode failure with a message of its own, whose chain
// holds its sentinel (and the cause, if any) for errors.Is and errors.As.
type decodeError struct {
	msg  string
	errs []error
}

func (e *decodeError) Error() string   { return e.msg }
func (e *decodeError) Unwrap() []error { return e.errs }

func undecryptable(msg string, cause error) error {
	errs := []error{ErrUndecryptable}
	if cause != nil {
		errs = append(errs, cause)
	}
	return &decodeError{msg: msg, errs: errs}
}

// Keys are the configured keys; the first is the one that encrypts.
type Keys struct {
	ids   []string
	aeads map[string]cipher.AEAD
}

var keyID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// ParseKeys reads "id=FILE,id2=FILE2": each file holds a 32-byte key as
// 64 hex digits or base64 (surrounding space ignored). The first key
// encrypts; every key decrypts what was encrypted with it.
func ParseKeys(spec string) (*Keys, error) {
	k := &Keys{aeads: map[string]cipher.AEAD{}}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, file, ok := strings.Cut(part, "=")
		switch {
		case !ok || file == "":
			return nil, fmt.Errorf("codec keys: %q is not id=FILE", part)
		case !keyID.MatchString(id):
			return nil, fmt.Errorf("codec keys: key id %q must be 1 to 64 letters, digits, '.', '_' or '-'", id)
		case k.aeads[id] != nil:
			return nil, fmt.Errorf("codec keys: key id %q is given twice", id)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("codec keys: key %s: %w", id, err)
		}
		raw, err := decodeKey(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, fmt.Errorf("codec keys: key %s in %s: %w", id, file, err)
		}
		if err := k.add(id, raw); err != nil {
			return nil, err
		}
	}
	if len(k.ids) == 0 {
		return nil, errors.New("codec keys: no key given")
	}
	return k, nil
}

// NewKeys is Keys from raw 32-byte keys by id, the first id encrypting.
func NewKeys(ids []string, raw map[string][]byte) (*Keys, error) {
	k := &Keys{aeads: map[string]cipher.AEAD{}}
	for _, id := range ids {
		if err := k.add(id, raw[id]); err != nil {
			return nil, err
		}
	}
	if len(k.ids) == 0 {
		return nil, errors.New("codec keys: no key given")
	}
	return k, nil
}

func (k *Keys) add(id string, raw []byte) error {
	if len(raw) != 32 {
		return fmt.Errorf("codec keys: key %s is %d bytes; AES-256 needs 32", id, len(raw))
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return fmt.Errorf("codec keys: key %s: %w", id, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return fmt.Errorf("codec keys: key %s: %w", id, err)
	}
	k.ids = append(k.ids, id)
	k.aeads[id] = aead
	return nil
}

func decodeKey(s string) ([]byte, error) {
	if b, err := hex.DecodeString(s); err == nil && len(b) == 32 {
		return b, nil
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) == 32 {
		return b, nil
	}
	return nil, errors.New("want 32 bytes as 64 hex digits or base64 (openssl rand -hex 32)")
}

// Current is the id of the key that encrypts.
func (k *Keys) Current() string { return k.ids[0] }

// Codec is the payload codec of the keys.
func (k *Keys) Codec() converter.PayloadCodec { return (*payloadCodec)(k) }

type payloadCodec Keys

// Encode encrypts each payload whole (its metadata and data), with the
// current key and a fresh nonce; the key id is bound as additional data.
func (c *payloadCodec) Encode(in []*commonpb.Payload) ([]*commonpb.Payload, error) {
	id := c.ids[0]
	aead := c.aeads[id]
	out := make([]*commonpb.Payload, len(in))
	for i, p := range in {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("codec: %w", err)
		}
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return nil, fmt.Errorf("codec: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{encodingMeta: []byte(Encoding), MetadataKey: []byte(id)},
			Data:     aead.Seal(nonce, nonce, plain, []byte(id)),
		}
	}
	return out, nil
}

// Decode decrypts the payloads this codec encrypted and passes others
// through (histories written before encryption was on).
func (c *payloadCodec) Decode(in []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(in))
	for i, p := range in {
		if string(p.GetMetadata()[encodingMeta]) != Encoding {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[MetadataKey])
		aead := c.aeads[id]
		if aead == nil {
			return nil, fmt.Errorf("codec: payload encrypted with key %q, which this process does not have (keys: %s): %w", id, strings.Join(c.ids, ", "), ErrUnknownKey)
		}
		n := aead.NonceSize()
		if len(p.Data) < n {
			return nil, undecryptable(fmt.Sprintf("codec: payload encrypted with key %q is too short", id), nil)
		}
		plain, err := aead.Open(nil, p.Data[:n], p.Data[n:], []byte(id))
		if err != nil {
			return nil, undecryptable(fmt.Sprintf("codec: payload encrypted with key %q does not decrypt: it was altered or the key file is not that key", id), err)
		}
		var q commonpb.Payload
		if err := proto.Unmarshal(plain, &q); err != nil {
			return nil, undecryptable("codec: "+err.Error(), err)
		}
		out[i] = &q
	}
	return out, nil
}

// DataConverter is the default converter with the keys' codec.
func (k *Keys) DataConverter() converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), k.Codec())
}

// FailureConverter moves each failure's message and stack trace into an
// encrypted payload, so error text (which may quote outputs) is not in
// the history in plain text either. An error whose chain holds
// ErrUnknownKey or ErrUndecryptable, and no *temporal.ApplicationError,
// becomes a non-retryable ApplicationError of type ErrorType with the
// same message first: an activity whose input this worker cannot decrypt
// fails at its first attempt, whatever its retry policy, instead of being
// retried by a worker that cannot decrypt it either.
func (k *Keys) FailureConverter() converter.FailureConverter {
	return failureConverter{temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{DataConverter: k.DataConverter(), EncodeCommonAttributes: true})}
}

type failureConverter struct {
	*temporal.DefaultFailureConverter
}

func (f failureConverter) ErrorToFailure(err error) *failurepb.Failure {
	return f.DefaultFailureConverter.ErrorToFailure(NonRetryable(err))
}

// NonRetryable is err as FailureConverter sends it: a failure to decode a
// payload (ErrUnknownKey, ErrUndecryptable in its chain) that no
// *temporal.ApplicationError in the chain already classifies becomes a
// non-retryable ApplicationError of type ErrorType with err's message;
// any other err is returned as it is.
func NonRetryable(err error) error {
	if err == nil || !(errors.Is(err, ErrUnknownKey) || errors.Is(err, ErrUndecryptable)) {
		return err
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return err
	}
	return temporal.NewNonRetryableApplicationError(err.Error(), ErrorType, nil)
}
