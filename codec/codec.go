// Package codec encrypts what omni writes into Temporal histories: workflow
// inputs and results, signals, activity inputs and results, markers,
// summaries and failure messages — enrolment data, customer attributes,
// coupon codes and rendered content. Every Temporal client omni creates
// uses it, so the Temporal server, and whoever reads its database or UI,
// sees ciphertext; workflow ids and search attributes stay in clear.
//
// Each payload is sealed whole (its metadata and data) with AES-256-GCM
// under a random nonce, and the key's id travels in the payload's metadata,
// so keys rotate: the first key encrypts, every key decrypts. Payloads
// without this codec's encoding pass through, so histories recorded before
// it still replay.
package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
)

const (
	// Encoding marks an encrypted payload (in its "encoding" metadata).
	Encoding = "binary/encrypted"
	// MetadataKeyID names the key a payload is encrypted with.
	MetadataKeyID = "encryption-key-id"
	// keySize is AES-256's.
	keySize = 32
	// maxKeyID bounds a key id, which every payload carries.
	maxKeyID = 64
)

// Codec is a converter.PayloadCodec with a ring of AES-256-GCM keys.
type Codec struct {
	encryptWith string
	keys        map[string]cipher.AEAD
	ids         []string
}

var _ converter.PayloadCodec = (*Codec)(nil)

// New returns the codec of keys in OMNI_PAYLOAD_KEYS's format: id:key
// pairs separated by commas, each key 32 random bytes in standard base64
// (`openssl rand -base64 32`); the first key encrypts, all of them
// decrypt. Errors never repeat a key.
func New(keys string) (*Codec, error) {
	c := &Codec{keys: map[string]cipher.AEAD{}}
	for i, entry := range strings.Split(keys, ",") {
		id, secret, ok := strings.Cut(strings.TrimSpace(entry), ":")
		if !ok {
			return nil, fmt.Errorf("key %d: want id:key (an id, a colon, then the key in base64)", i+1)
		}
		if err := validID(id); err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		if _, dup := c.keys[id]; dup {
			return nil, fmt.Errorf("key %d: id %q appears twice", i+1, id)
		}
		raw, err := base64.StdEncoding.DecodeString(secret)
		if err != nil || len(raw) != keySize {
			return nil, fmt.Errorf("key %q: want %d random bytes in standard base64 (openssl rand -base64 32)", id, keySize)
		}
		block, err := aes.NewCipher(raw)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", id, err)
		}
		if c.keys[id], err = cipher.NewGCM(block); err != nil {
			return nil, fmt.Errorf("key %q: %w", id, err)
		}
		c.ids = append(c.ids, id)
	}
	c.encryptWith = c.ids[0]
	return c, nil
}

// validID keeps key ids printable and short: every payload carries one,
// and the list's separators cannot be in it.
func validID(id string) error {
	if id == "" || len(id) > maxKeyID {
		return fmt.Errorf("a key id is 1 to %d characters", maxKeyID)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("key id %q: letters, digits, '-', '_' and '.' only", id)
		}
	}
	return nil
}

// GenerateKey returns a new random key with the given id, in
// OMNI_PAYLOAD_KEYS's format.
func GenerateKey(id string) (string, error) {
	if err := validID(id); err != nil {
		return "", err
	}
	raw := make([]byte, keySize)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	return id + ":" + base64.StdEncoding.EncodeToString(raw), nil
}

// String names the keys, never their secrets.
func (c *Codec) String() string {
	return fmt.Sprintf("keys %s (%s encrypts)", strings.Join(c.ids, ", "), c.encryptWith)
}

// Encode encrypts every payload with the first key.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	aead := c.keys[c.encryptWith]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return payloads, err
		}
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return payloads, err
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{converter.MetadataEncoding: []byte(Encoding), MetadataKeyID: []byte(c.encryptWith)},
			// The key id is authenticated too: a payload cannot be
			// relabelled to another key.
			Data: aead.Seal(nonce, nonce, plain, []byte(c.encryptWith)),
		}
	}
	return out, nil
}

// Decode decrypts the payloads this codec encrypted and passes the others
// through unchanged.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != Encoding {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[MetadataKeyID])
		aead, ok := c.keys[id]
		if !ok {
			return payloads, fmt.Errorf("payload encrypted with key %q, which is not among the %s", id, c)
		}
		data := p.GetData()
		if len(data) < aead.NonceSize() {
			return payloads, errors.New("encrypted payload too short")
		}
		plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], []byte(id))
		if err != nil {
			return payloads, fmt.Errorf("payload does not decrypt with key %q: %w", id, err)
		}
		out[i] = &commonpb.Payload{}
		if err := proto.Unmarshal(plain, out[i]); err != nil {
			return payloads, fmt.Errorf("decrypted payload: %w", err)
		}
	}
	return out, nil
}

// DataConverter is the SDK's default data converter with payloads
// encrypted.
func (c *Codec) DataConverter() converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}

// FailureConverter moves failures' messages and stack traces into an
// encrypted payload: provider answers and template errors can name a
// customer's address.
func (c *Codec) FailureConverter() converter.FailureConverter {
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{DataConverter: c.DataConverter(), EncodeCommonAttributes: true})
}

// Apply makes a client built from o, and its workers, encrypt with c.
func (c *Codec) Apply(o *client.Options) {
	o.DataConverter, o.FailureConverter = c.DataConverter(), c.FailureConverter()
}
