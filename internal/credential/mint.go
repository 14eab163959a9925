package credential

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"time"

	"github.com/google/uuid"
)

// Signer is a server signing key: the community's active Ed25519 key and
// its kid. The server picks the key by the token's NotBefore, which must fall
// in the key's active window (see Key).
type Signer struct {
	KID uint32
	Key ed25519.PrivateKey
}

// MintIssued signs an issued token (type 0x01) for an online phone and
// returns its QR text. From c it uses CredentialID, Subject, Zones,
// NotBefore, ExpiresAt and Nonce; the type and kid come from the call and
// the signer. A zero Nonce is replaced by a random one, because two issued
// tokens of one credential with the same nonce share a replay key and the
// second would be refused at the gate. Times are truncated to whole seconds.
// ExpiresAt-NotBefore must be within [MinIssuedLifetime, MaxIssuedLifetime].
func MintIssued(s Signer, c Claims) (string, error) {
	return mintSimple(s, c, TypeIssued, labelIssued)
}

// MintCard signs a printed card (type 0x03); the same rules as MintIssued,
// with a lifetime of at most MaxCardLifetime. The text is static: print it
// once, revoke by credential id.
func MintCard(s Signer, c Claims) (string, error) {
	return mintSimple(s, c, TypeCard, labelCard)
}

func mintSimple(s Signer, c Claims, typ Type, label string) (string, error) {
	t := Token{Claims: c}
	if err := prepare(s, &t.Claims, typ); err != nil {
		return "", err
	}
	t.DeviceKey, t.Counter = [DeviceKeySize]byte{}, 0
	if t.Nonce == 0 {
		var b [8]byte
		for t.Nonce == 0 {
			if _, err := rand.Read(b[:]); err != nil {
				return "", fmt.Errorf("credential: nonce: %w", err)
			}
			t.Nonce = binary.BigEndian.Uint64(b[:])
		}
	}
	var msg [maxSimpleMsg]byte
	n := copy(msg[:], label)
	putSimpleBody(msg[n:n+simpleBody], &t.Claims)
	copy(t.Sig[:], ed25519.Sign(s.Key, msg[:n+simpleBody]))
	return t.Text(), nil
}

// CertifyDevice signs a certificate binding phonePub (P-256) to the claims
// CredentialID, Subject, Zones, NotBefore and ExpiresAt (the certificate's
// not_after, at most MaxDeviceCertLifetime later). The phone keeps the bytes
// and passes them to PresentDevice (or its native equivalent) every 30 s.
func CertifyDevice(s Signer, c Claims, phonePub *ecdsa.PublicKey) ([]byte, error) {
	t := Token{Claims: c}
	if err := prepare(s, &t.Claims, TypeDevice); err != nil {
		return nil, err
	}
	t.Nonce, t.Counter = 0, 0
	if err := compressP256(&t.DeviceKey, phonePub); err != nil {
		return nil, err
	}
	var msg [certMsgLen]byte
	n := copy(msg[:], labelDeviceCert)
	putCertBody(msg[n:], &t.Claims)
	cert := make([]byte, certLen)
	copy(cert, msg[n:])
	copy(cert[offCertSig:], ed25519.Sign(s.Key, msg[:]))
	return cert, nil
}

// PresentDevice is the phone's side, for tests, simulators and any Go
// client: it signs label || cert || counter (counter = now/30) with the
// phone key and returns the QR text. Native apps do the same with a key in
// secure hardware (docs/credential-format.md). It refuses a certificate that
// is malformed, made for another key, or expired at now (ErrExpired: time to
// ask for a new one); it does not check not_before, which the gate judges
// with its skew. The signature is deterministic (RFC 6979), so the output is
// reproducible for test vectors; gates accept any valid ECDSA signature.
func PresentDevice(cert []byte, phoneKey *ecdsa.PrivateKey, now time.Time) (string, error) {
	if len(cert) != certLen || Type(cert[offType]) != TypeDevice {
		return "", fmt.Errorf("%w: device certificate must be %d bytes of type 0x02", ErrMalformed, certLen)
	}
	// A certificate followed by an empty presentation is structurally a
	// device token, so the strict parser checks the certificate fields.
	var raw [deviceLen]byte
	copy(raw[:], cert)
	var t Token
	if err := parseBinary(raw[:], &t); err != nil {
		return "", err
	}
	if phoneKey == nil {
		return "", fmt.Errorf("%w: nil phone key", ErrInvalidClaims)
	}
	var own [DeviceKeySize]byte
	if err := compressP256(&own, &phoneKey.PublicKey); err != nil {
		return "", err
	}
	if own != t.DeviceKey {
		return "", fmt.Errorf("%w: phone key does not match the certificate", ErrInvalidClaims)
	}
	if !now.Before(t.ExpiresAt) {
		return "", fmt.Errorf("%w: device certificate expired at %s", ErrExpired, t.ExpiresAt.Format(time.RFC3339))
	}
	sec := now.Unix()
	if sec < 0 || sec > math.MaxUint32 {
		return "", fmt.Errorf("%w: time %s outside 1970..2106", ErrInvalidClaims, now)
	}
	t.Counter = uint32(sec / int64(PresentationPeriod/time.Second))

	var msg [presMsgLen]byte
	n := copy(msg[:], labelPresentation)
	n += copy(msg[n:], cert)
	binary.BigEndian.PutUint32(msg[n:], t.Counter)
	digest := sha256.Sum256(msg[:])
	der, err := phoneKey.Sign(nil, digest[:], crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("credential: phone signature: %w", err)
	}
	var sig struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &sig); err != nil || len(rest) != 0 {
		return "", fmt.Errorf("credential: phone signature is not ASN.1")
	}
	sig.R.FillBytes(t.DeviceSig[:32])
	sig.S.FillBytes(t.DeviceSig[32:])
	return t.Text(), nil
}

// prepare checks the signer and the claims a mint function uses and fills
// in what the call decides (type, kid, whole-second UTC times).
func prepare(s Signer, c *Claims, typ Type) error {
	if len(s.Key) != ed25519.PrivateKeySize {
		return fmt.Errorf("%w: signer key is %d bytes, want %d", ErrInvalidClaims, len(s.Key), ed25519.PrivateKeySize)
	}
	if c.CredentialID == uuid.Nil {
		return fmt.Errorf("%w: nil credential id", ErrInvalidClaims)
	}
	if !c.Subject.valid() {
		return fmt.Errorf("%w: subject %s", ErrInvalidClaims, c.Subject)
	}
	nbf, exp := c.NotBefore.Unix(), c.ExpiresAt.Unix()
	for _, v := range [2]int64{nbf, exp} {
		if v < 0 || v > math.MaxUint32 {
			return fmt.Errorf("%w: time %d outside 1970..2106 (uint32 seconds)", ErrInvalidClaims, v)
		}
	}
	if !windowOK(typ, exp-nbf) {
		return fmt.Errorf("%w: %s lifetime %s", ErrLifetime, typ, time.Duration(exp-nbf)*time.Second)
	}
	c.Type, c.KID = typ, s.KID
	c.NotBefore = time.Unix(nbf, 0).UTC()
	c.ExpiresAt = time.Unix(exp, 0).UTC()
	return nil
}

// compressP256 writes the SEC 1 compressed form of pub. It goes through
// PublicKey.Bytes rather than the deprecated X/Y fields.
func compressP256(dst *[DeviceKeySize]byte, pub *ecdsa.PublicKey) error {
	if pub == nil || pub.Curve != elliptic.P256() {
		return fmt.Errorf("%w: phone key must be ECDSA P-256", ErrInvalidClaims)
	}
	u, err := pub.Bytes()
	if err != nil || len(u) != 65 {
		return fmt.Errorf("%w: phone key: %v", ErrInvalidClaims, err)
	}
	dst[0] = 2 | u[64]&1
	copy(dst[1:], u[1:33])
	return nil
}
