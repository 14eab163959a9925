package credential

import (
	"encoding/binary"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Type is the first byte of every token. It doubles as the format version:
// a new layout gets a new type byte, and old gates reject it as unknown.
type Type uint8

const (
	TypeIssued Type = 0x01 // minted by mobile-api for an online phone, 30..300 s
	TypeDevice Type = 0x02 // server certificate of a phone key + the phone's 30 s presentation
	TypeCard   Type = 0x03 // printed; the same text on every scan, up to a year
)

func (t Type) String() string {
	switch t {
	case TypeIssued:
		return "issued"
	case TypeDevice:
		return "device"
	case TypeCard:
		return "card"
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// Subject is the kind of person a credential belongs to. The gate's rules
// may differ per kind (a visitor pass may not open the gym), so it is signed.
type Subject uint8

const (
	SubjectResident Subject = 1
	SubjectVisitor  Subject = 2
	SubjectStaff    Subject = 3
)

func (s Subject) String() string {
	switch s {
	case SubjectResident:
		return "resident"
	case SubjectVisitor:
		return "visitor"
	case SubjectStaff:
		return "staff"
	}
	return "Subject(" + strconv.Itoa(int(s)) + ")"
}

func (s Subject) valid() bool { return s >= SubjectResident && s <= SubjectStaff }

// Lifetime limits, enforced when minting and again when parsing (so that the
// key publication rule below holds even for a token a buggy minter signed).
const (
	MinIssuedLifetime     = 30 * time.Second
	MaxIssuedLifetime     = 300 * time.Second
	MaxCardLifetime       = 366 * 24 * time.Hour // a calendar year, leap years included
	MaxDeviceCertLifetime = 30 * 24 * time.Hour
	// PresentationPeriod is the step of the device counter: counter = unix/30.
	PresentationPeriod = 30 * time.Second
	// DefaultSkew is the clock skew a Verifier allows when Skew is zero.
	DefaultSkew = 30 * time.Second
)

// Prefix starts every QR text; ':' is in the QR alphanumeric set, so the
// whole text stays in the densest QR mode.
const Prefix = "GA1:"

// Domain-separation labels. No label is a prefix of another and each is
// followed by the type byte, so a signature made for one purpose can never
// be read as a signature for another.
const (
	labelIssued       = "gatepass/v1/issued"
	labelCard         = "gatepass/v1/card"
	labelDeviceCert   = "gatepass/v1/device-cert"
	labelPresentation = "gatepass/v1/device-presentation"
)

// Byte layout (offsets into the binary token). Issued and card share it.
const (
	offType    = 0
	offKID     = 1
	offCredID  = 5
	offSubject = 21
	offZones   = 22
	offNBF     = 30
	offExp     = 34
	headerLen  = 38

	offNonce   = headerLen // issued, card
	simpleBody = offNonce + 8
	offSig     = simpleBody
	simpleLen  = offSig + 64 // 110

	offDeviceKey  = headerLen // device
	DeviceKeySize = 33
	certBody      = offDeviceKey + DeviceKeySize
	offCertSig    = certBody
	certLen       = offCertSig + 64 // 135
	offCounter    = certLen
	presBody      = offCounter + 4
	offPhoneSig   = presBody
	deviceLen     = offPhoneSig + 64 // 203

	maxTokenLen = deviceLen
	// MaxTextLen is the longest QR text of any type. Input longer than this
	// is rejected before a single character is decoded.
	MaxTextLen = len(Prefix) + deviceLen/2*3 + deviceLen%2*2

	// The signed messages, built in fixed arrays on the verify path.
	maxSimpleMsg = len(labelIssued) + simpleBody
	certMsgLen   = len(labelDeviceCert) + certBody
	presMsgLen   = len(labelPresentation) + presBody
)

// tokenLen is the exact binary length of each type; 0 for unknown types.
func tokenLen(t Type) int {
	switch t {
	case TypeIssued, TypeCard:
		return simpleLen
	case TypeDevice:
		return deviceLen
	}
	return 0
}

// Claims is what a verified token says. Times are UTC with whole seconds, so
// two Claims can be compared with ==.
type Claims struct {
	Type         Type
	KID          uint32
	CredentialID uuid.UUID
	Subject      Subject
	Zones        uint64    // bit i = zone i of the community; bit 0 = perimeter
	NotBefore    time.Time // inclusive
	ExpiresAt    time.Time // exclusive; for a device token, the certificate's not_after
	Nonce        uint64    // issued and card only
	// DeviceKey is the phone's P-256 public key, SEC 1 compressed (device only).
	DeviceKey [DeviceKeySize]byte
	// Counter is the device presentation's unix/30 (device only).
	Counter uint32
}

// ReplayKeySize is the length of Claims.ReplayKey.
const ReplayKeySize = 1 + 16 + 8

// ReplayKey identifies one presentation for the gate's replay cache:
// type || credential id || nonce (issued), counter (device, zero-padded to 8
// bytes) or nothing (card: its text never changes, so the gate must treat
// card replays by its own rule rather than refuse the second scan forever).
// The type byte keeps keys of different types from colliding.
func (c *Claims) ReplayKey() [ReplayKeySize]byte {
	var k [ReplayKeySize]byte
	k[0] = byte(c.Type)
	copy(k[1:17], c.CredentialID[:])
	switch c.Type {
	case TypeIssued:
		binary.BigEndian.PutUint64(k[17:], c.Nonce)
	case TypeDevice:
		binary.BigEndian.PutUint32(k[21:], c.Counter)
	}
	return k
}

// Token is a parsed token with its signatures, for inspection and
// re-encoding. Only Verifier.Verify says whether it is genuine.
type Token struct {
	Claims
	// Sig is the server's Ed25519 signature: of the token (issued, card) or of
	// the certificate (device).
	Sig [64]byte
	// DeviceSig is the phone's P-256 ECDSA signature r||s (device only).
	DeviceSig [64]byte
}

// Text returns the canonical QR text of t. For a token that Parse returned,
// it is the text Parse was given: Base45 is decoded strictly, so every token
// has exactly one text.
func (t *Token) Text() string {
	var raw [maxTokenLen]byte
	n := t.marshal(&raw)
	if n == 0 {
		return ""
	}
	var buf [MaxTextLen]byte
	return string(appendBase45(append(buf[:0], Prefix...), raw[:n]))
}

// marshal writes the binary token; 0 for an unknown type. Times must be in
// uint32 range: guaranteed for parsed tokens, checked by the mint functions.
func (t *Token) marshal(raw *[maxTokenLen]byte) int {
	switch t.Type {
	case TypeIssued, TypeCard:
		putSimpleBody(raw[:simpleBody], &t.Claims)
		copy(raw[offSig:], t.Sig[:])
		return simpleLen
	case TypeDevice:
		putCertBody(raw[:certBody], &t.Claims)
		copy(raw[offCertSig:], t.Sig[:])
		binary.BigEndian.PutUint32(raw[offCounter:], t.Counter)
		copy(raw[offPhoneSig:], t.DeviceSig[:])
		return deviceLen
	}
	return 0
}

func putHeader(b []byte, c *Claims) {
	b[offType] = byte(c.Type)
	binary.BigEndian.PutUint32(b[offKID:], c.KID)
	copy(b[offCredID:offCredID+16], c.CredentialID[:])
	b[offSubject] = byte(c.Subject)
	binary.BigEndian.PutUint64(b[offZones:], c.Zones)
	binary.BigEndian.PutUint32(b[offNBF:], uint32(c.NotBefore.Unix()))
	binary.BigEndian.PutUint32(b[offExp:], uint32(c.ExpiresAt.Unix()))
}

func putSimpleBody(b []byte, c *Claims) {
	putHeader(b, c)
	binary.BigEndian.PutUint64(b[offNonce:], c.Nonce)
}

func putCertBody(b []byte, c *Claims) {
	putHeader(b, c)
	copy(b[offDeviceKey:certBody], c.DeviceKey[:])
}

// Parse decodes a QR text strictly without verifying anything: for logs,
// support tools and tests. Never trust its result for access decisions.
func Parse(text string) (Token, error) {
	var raw [maxTokenLen]byte
	var t Token
	_, err := parseText(text, &raw, &t)
	return t, err
}

// parseText decodes text into raw and fills t. It returns the binary length.
// It checks everything that needs no key: prefix, Base45, exact length for
// the type, subject, window limits, device key encoding.
func parseText(text string, raw *[maxTokenLen]byte, t *Token) (int, error) {
	if len(text) > MaxTextLen {
		return 0, errTooLong
	}
	if len(text) < len(Prefix) || text[:len(Prefix)] != Prefix {
		return 0, errBadPrefix
	}
	body := text[len(Prefix):]
	if len(body) == 0 {
		return 0, errEmpty
	}
	n, err := decodeBase45(raw[:], body)
	if err != nil {
		return 0, err
	}
	typ := Type(raw[offType])
	want := tokenLen(typ)
	switch {
	case want == 0:
		return 0, ErrUnknownType
	case n < want:
		return 0, errTruncated
	case n > want:
		return 0, errTrailing
	}
	return n, parseBinary(raw[:n], t)
}

// parseBinary fills t from b, whose length the caller has matched to its type.
func parseBinary(b []byte, t *Token) error {
	typ := Type(b[offType])
	c := &t.Claims
	c.Type = typ
	c.KID = binary.BigEndian.Uint32(b[offKID:])
	copy(c.CredentialID[:], b[offCredID:offCredID+16])
	c.Subject = Subject(b[offSubject])
	if !c.Subject.valid() {
		return errBadSubject
	}
	c.Zones = binary.BigEndian.Uint64(b[offZones:])
	nbf := binary.BigEndian.Uint32(b[offNBF:])
	exp := binary.BigEndian.Uint32(b[offExp:])
	if !windowOK(typ, int64(exp)-int64(nbf)) {
		return errBadWindow
	}
	c.NotBefore = time.Unix(int64(nbf), 0).UTC()
	c.ExpiresAt = time.Unix(int64(exp), 0).UTC()
	if typ == TypeDevice {
		copy(c.DeviceKey[:], b[offDeviceKey:certBody])
		if c.DeviceKey[0] != 2 && c.DeviceKey[0] != 3 {
			return errBadDeviceKey
		}
		copy(t.Sig[:], b[offCertSig:certLen])
		c.Counter = binary.BigEndian.Uint32(b[offCounter:])
		copy(t.DeviceSig[:], b[offPhoneSig:deviceLen])
	} else {
		c.Nonce = binary.BigEndian.Uint64(b[offNonce:])
		copy(t.Sig[:], b[offSig:simpleLen])
	}
	return nil
}

// windowOK reports whether a validity window of secs seconds is allowed for
// the type. The same rule guards minting and parsing.
func windowOK(t Type, secs int64) bool {
	var lo, hi time.Duration
	switch t {
	case TypeIssued:
		lo, hi = MinIssuedLifetime, MaxIssuedLifetime
	case TypeCard:
		lo, hi = time.Second, MaxCardLifetime
	case TypeDevice:
		lo, hi = time.Second, MaxDeviceCertLifetime
	default:
		return false
	}
	return secs >= int64(lo/time.Second) && secs <= int64(hi/time.Second)
}

// maxLifetime is the longest window any type allows; it bounds how long a
// retired key must stay published.
func maxLifetime() time.Duration {
	return max(MaxIssuedLifetime, MaxCardLifetime, MaxDeviceCertLifetime)
}
