package codec_test

import (
	"bytes"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"github.com/omni-orchestrator/omni/codec"
)

func key(t *testing.T, id string) string {
	t.Helper()
	k, err := codec.GenerateKey(id)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustNew(t *testing.T, keys string) *codec.Codec {
	t.Helper()
	c, err := codec.New(keys)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func encode(t *testing.T, c *codec.Codec, v any) *commonpb.Payload {
	t.Helper()
	p, err := c.DataConverter().ToPayload(v)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPayloadsAreEncryptedAndDecrypt(t *testing.T) {
	c := mustNew(t, key(t, "k1"))
	secret := map[string]string{"email": "ada@example.com", "coupon": "SPRING-7KQ2MX4D"}
	p := encode(t, c, secret)
	if string(p.Metadata[converter.MetadataEncoding]) != codec.Encoding || string(p.Metadata[codec.MetadataKeyID]) != "k1" {
		t.Fatalf("metadata %v", p.Metadata)
	}
	for _, clear := range []string{"ada@example.com", "SPRING-7KQ2MX4D", "json/plain"} {
		if bytes.Contains(p.Data, []byte(clear)) {
			t.Errorf("%q in clear in %q", clear, p.Data)
		}
	}
	var got map[string]string
	if err := c.DataConverter().FromPayload(p, &got); err != nil || got["email"] != "ada@example.com" {
		t.Fatalf("decoded %v, %v", got, err)
	}
	// A random nonce per payload: the same value never encrypts the same.
	if again := encode(t, c, secret); bytes.Equal(again.Data, p.Data) {
		t.Fatal("two encryptions of one value are equal")
	}
}

// Histories recorded before the codec hold plain payloads; they decode as
// they are.
func TestPlainPayloadsPassThrough(t *testing.T) {
	plain, err := converter.GetDefaultDataConverter().ToPayload("Hi Ada")
	if err != nil {
		t.Fatal(err)
	}
	var got string
	if err := mustNew(t, key(t, "k1")).DataConverter().FromPayload(plain, &got); err != nil || got != "Hi Ada" {
		t.Fatalf("decoded %q, %v", got, err)
	}
}

// The first key encrypts and every key decrypts: a new key goes first,
// and payloads of the old one still decrypt until it is dropped.
func TestKeysRotate(t *testing.T) {
	k1, k2 := key(t, "k1"), key(t, "k2")
	old := encode(t, mustNew(t, k1), "old")
	rotated := mustNew(t, k2+","+k1)
	var got string
	if err := rotated.DataConverter().FromPayload(old, &got); err != nil || got != "old" {
		t.Fatalf("old payload after rotation: %q, %v", got, err)
	}
	if p := encode(t, rotated, "new"); string(p.Metadata[codec.MetadataKeyID]) != "k2" {
		t.Fatalf("encrypted with %s, want k2", p.Metadata[codec.MetadataKeyID])
	}
	err := mustNew(t, k2).DataConverter().FromPayload(old, &got)
	if err == nil || !strings.Contains(err.Error(), `"k1"`) {
		t.Fatalf("old payload without its key: %v", err)
	}
}

func TestTamperingIsDetected(t *testing.T) {
	k1 := key(t, "k1")
	c := mustNew(t, k1+","+key(t, "k2"))
	var got string
	flipped := encode(t, c, "value")
	flipped.Data[len(flipped.Data)-1] ^= 1
	relabelled := encode(t, c, "value")
	relabelled.Metadata[codec.MetadataKeyID] = []byte("k2")
	// The same key under another id: the id is authenticated too.
	other := mustNew(t, "k3"+k1[len("k1"):])
	for name, p := range map[string]*commonpb.Payload{"flipped": flipped, "relabelled": relabelled} {
		if err := c.DataConverter().FromPayload(p, &got); err == nil {
			t.Errorf("%s payload decoded", name)
		}
	}
	renamed := encode(t, other, "value")
	renamed.Metadata[codec.MetadataKeyID] = []byte("k1")
	if err := c.DataConverter().FromPayload(renamed, &got); err == nil {
		t.Error("payload of another key id decoded")
	}
}

// Failure messages can hold what a provider said about an address.
func TestFailureMessagesAreEncrypted(t *testing.T) {
	c := mustNew(t, key(t, "k1"))
	f := c.FailureConverter().ErrorToFailure(errString("twilio: +4915112345678 is not a mobile number"))
	if strings.Contains(f.String(), "4915112345678") {
		t.Fatalf("failure in clear: %v", f)
	}
	if err := c.FailureConverter().FailureToError(f); !strings.Contains(err.Error(), "+4915112345678") {
		t.Fatalf("decoded failure %v", err)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestBadKeysAreRefusedWithoutRepeatingThem(t *testing.T) {
	good := key(t, "k1")
	secret := good[len("k1:"):]
	for name, keys := range map[string]string{
		"no id":          secret,
		"empty id":       ":" + secret,
		"id with space":  "my key:" + secret,
		"not base64":     "k1:" + secret[:10] + "!!" + secret[12:],
		"16 bytes":       "k1:" + secret[:22] + "==",
		"duplicate id":   good + "," + good,
		"trailing comma": good + ",",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := codec.New(keys)
			if err == nil {
				t.Fatalf("%s accepted", name)
			}
			if strings.Contains(err.Error(), secret[:10]) {
				t.Fatalf("error repeats the key: %v", err)
			}
		})
	}
}

func TestTheCodecNamesItsKeysNotTheirSecrets(t *testing.T) {
	k := key(t, "k2")
	c := mustNew(t, k+","+key(t, "k1"))
	if s := c.String(); s != "keys k2, k1 (k2 encrypts)" {
		t.Fatalf("String() = %q", s)
	}
}

// BenchmarkConverter is the codec's own cost: one payload of the size of
// a journey's input (its campaign version) encoded and decoded through the
// data converter, as workers and clients do, with the codec and without.
// make bench prints it beside omnibench's journeys with and without it.
func BenchmarkConverter(b *testing.B) {
	k, err := codec.GenerateKey("bench")
	if err != nil {
		b.Fatal(err)
	}
	c, err := codec.New(k)
	if err != nil {
		b.Fatal(err)
	}
	value := map[string]string{"definition": strings.Repeat("x", 2048)}
	for name, dc := range map[string]converter.DataConverter{"codec": c.DataConverter(), "plain": converter.GetDefaultDataConverter()} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p, err := dc.ToPayload(value)
				if err != nil {
					b.Fatal(err)
				}
				var got map[string]string
				if err := dc.FromPayload(p, &got); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
