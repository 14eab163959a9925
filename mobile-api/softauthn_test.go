package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// authenticator is a software WebAuthn authenticator for API tests: it makes real
// P-256 keys, real "none" attestations and real signed assertions, so the server's
// checks run exactly as for a phone. The browser test uses Chromium's virtual
// authenticator instead.
type authenticator struct {
	origin, rpID string
	uv           bool // report user verification
	keys         []*softKey
}

type softKey struct {
	id         []byte
	priv       *ecdsa.PrivateKey
	userHandle []byte
	count      uint32
}

var b64 = base64.RawURLEncoding

const (
	flagUP = 0x01
	flagUV = 0x04
	flagAT = 0x40
)

func (au *authenticator) flags() byte {
	f := byte(flagUP)
	if au.uv {
		f |= flagUV
	}
	return f
}

// publicKeyOptions digs options.publicKey out of a begin answer.
func publicKeyOptions(t testing.TB, begin map[string]any) map[string]any {
	t.Helper()
	opts, ok := begin["options"].(map[string]any)
	if !ok {
		t.Fatalf("begin answer without options: %v", begin)
	}
	pk, ok := opts["publicKey"].(map[string]any)
	if !ok {
		t.Fatalf("options without publicKey: %v", opts)
	}
	return pk
}

func (au *authenticator) clientData(typ, challenge string) []byte {
	raw, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": au.origin, "crossOrigin": false})
	return raw
}

// create answers a registration's options with a new key.
func (au *authenticator) create(t testing.TB, begin map[string]any) (json.RawMessage, *softKey) {
	t.Helper()
	pk := publicKeyOptions(t, begin)
	user := pk["user"].(map[string]any)
	handle, err := b64.DecodeString(user["id"].(string))
	if err != nil {
		t.Fatalf("user.id: %v", err)
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k := &softKey{id: make([]byte, 32), priv: priv, userHandle: handle}
	_, _ = rand.Read(k.id)
	x, y := make([]byte, 32), make([]byte, 32)
	priv.X.FillBytes(x)
	priv.Y.FillBytes(y)
	cose, err := cbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: x, -3: y})
	if err != nil {
		t.Fatal(err)
	}
	rp := sha256.Sum256([]byte(au.rpID))
	authData := append(rp[:], au.flags()|flagAT)
	authData = binary.BigEndian.AppendUint32(authData, 0)
	authData = append(authData, make([]byte, 16)...) // AAGUID
	authData = binary.BigEndian.AppendUint16(authData, uint16(len(k.id)))
	authData = append(authData, k.id...)
	authData = append(authData, cose...)
	att, err := cbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": authData})
	if err != nil {
		t.Fatal(err)
	}
	cd := au.clientData("webauthn.create", pk["challenge"].(string))
	raw, _ := json.Marshal(map[string]any{
		"id": b64.EncodeToString(k.id), "rawId": b64.EncodeToString(k.id), "type": "public-key",
		"response":               map[string]any{"clientDataJSON": b64.EncodeToString(cd), "attestationObject": b64.EncodeToString(att), "transports": []string{"internal"}},
		"clientExtensionResults": map[string]any{},
	})
	au.keys = append(au.keys, k)
	return raw, k
}

// get answers an assertion's options with key k, advancing its counter by step (0 or
// negative steps make a counter that does not move forward).
func (au *authenticator) get(t testing.TB, begin map[string]any, k *softKey, step int) json.RawMessage {
	t.Helper()
	pk := publicKeyOptions(t, begin)
	k.count = uint32(int(k.count) + step)
	rp := sha256.Sum256([]byte(au.rpID))
	authData := append(rp[:], au.flags())
	authData = binary.BigEndian.AppendUint32(authData, k.count)
	cd := au.clientData("webauthn.get", pk["challenge"].(string))
	cdHash := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, authData...), cdHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(map[string]any{
		"id": b64.EncodeToString(k.id), "rawId": b64.EncodeToString(k.id), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64.EncodeToString(cd), "authenticatorData": b64.EncodeToString(authData),
			"signature": b64.EncodeToString(sig), "userHandle": b64.EncodeToString(k.userHandle)},
		"clientExtensionResults": map[string]any{},
	})
	return raw
}
