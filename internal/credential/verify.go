package credential

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Key is a community's public signing key as gates and servers trust it.
//
// NotBefore is when the server starts signing with it (zero: no lower
// bound); publish a new key to the gates well before that. NotAfter is when
// it was retired (zero: active). A token is accepted only if its
// not_before (a device certificate's, for device tokens) falls in
// [NotBefore, NotAfter), so a key retired by rotation keeps vouching for what
// it signed before, but not for anything newer. After retirement the key
// stays usable until NotAfter + RetiredKeyRetention(skew), by which time
// every token it signed has expired; keep publishing it until then. A
// compromised key is not retired but removed from the set.
type Key struct {
	KID       uint32
	Community uuid.UUID
	Public    ed25519.PublicKey
	NotBefore time.Time
	NotAfter  time.Time
}

// RetiredKeyRetention is how long after its NotAfter a retired key must stay
// published (and is honoured): the longest lifetime of any token type plus
// the clock skew, so that a card signed the second before retirement stays
// valid to its end.
func RetiredKeyRetention(skew time.Duration) time.Duration {
	return maxLifetime() + max(skew, 0)
}

// PublishedUntil is the time after which k may be dropped from every key
// set; the zero time for an active key.
func (k *Key) PublishedUntil(skew time.Duration) time.Time {
	if k.NotAfter.IsZero() {
		return time.Time{}
	}
	return k.NotAfter.Add(RetiredKeyRetention(skew))
}

// KeyLookup finds a trusted key by kid. Implementations must be safe for
// concurrent use and should not allocate: Verify calls Lookup on every scan.
type KeyLookup interface {
	Lookup(kid uint32) (Key, bool)
}

// KeySet is an immutable KeyLookup backed by a map. To change the keys, build
// a new set and swap it in (an atomic.Pointer), so lookups never lock.
type KeySet struct {
	keys map[uint32]Key
}

// NewKeySet builds a set, copying each public key. It rejects duplicate
// kids, public keys that are not 32 bytes (ed25519.Verify would panic on
// them) and windows that end before they begin.
func NewKeySet(keys ...Key) (*KeySet, error) {
	s := &KeySet{keys: make(map[uint32]Key, len(keys))}
	for _, k := range keys {
		if _, dup := s.keys[k.KID]; dup {
			return nil, fmt.Errorf("credential: duplicate kid %d", k.KID)
		}
		if len(k.Public) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("credential: kid %d: public key is %d bytes, want %d", k.KID, len(k.Public), ed25519.PublicKeySize)
		}
		if !k.NotAfter.IsZero() && !k.NotBefore.IsZero() && k.NotAfter.Before(k.NotBefore) {
			return nil, fmt.Errorf("credential: kid %d: not_after before not_before", k.KID)
		}
		k.Public = bytes.Clone(k.Public)
		s.keys[k.KID] = k
	}
	return s, nil
}

// Lookup implements KeyLookup. A nil set holds no keys.
func (s *KeySet) Lookup(kid uint32) (Key, bool) {
	if s == nil {
		return Key{}, false
	}
	k, ok := s.keys[kid]
	return k, ok
}

// Len is the number of keys in the set.
func (s *KeySet) Len() int {
	if s == nil {
		return 0
	}
	return len(s.keys)
}

// Verifier checks tokens for one community. The zero Skew means DefaultSkew;
// a negative Skew means none. Community must be set: a key whose community
// differs (uuid.Nil included) is refused with ErrWrongCommunity.
//
// Verify checks, in this order, returning the first failure:
//  1. strict parse: prefix, length cap, Base45, known type, exact length,
//     subject, window limits, device key encoding (ErrMalformed)
//  2. kid known (ErrUnknownKey)
//  3. key's community is v.Community (ErrWrongCommunity)
//  4. key was active at the token's not_before and, if retired, is still in
//     its publication window (ErrUnknownKey)
//  5. server signature, then for a device the phone signature (ErrBadSignature)
//  6. token or certificate window with skew (ErrNotYetValid, ErrExpired)
//  7. device only: presentation window [counter*30, counter*30+30) with skew
//     (ErrNotYetValid, ErrExpired)
//
// Revocation, the gate's zone and replay are the caller's: use
// Claims.Zones, Claims.CredentialID and Claims.ReplayKey.
type Verifier struct {
	Community uuid.UUID
	Keys      KeyLookup
	Skew      time.Duration
}

func (v *Verifier) skew() time.Duration {
	switch {
	case v.Skew == 0:
		return DefaultSkew
	case v.Skew < 0:
		return 0
	}
	return v.Skew
}

// Verify checks text at time now (the gate's clock) and returns its claims.
// It is safe for concurrent use and allocates nothing beyond what
// crypto/ed25519 and crypto/ecdsa allocate themselves.
func (v *Verifier) Verify(text string, now time.Time) (Claims, error) {
	var raw [maxTokenLen]byte
	var t Token
	n, err := parseText(text, &raw, &t)
	if err != nil {
		return Claims{}, err
	}
	c := &t.Claims
	if v.Keys == nil {
		return Claims{}, errKeyNotFound
	}
	key, ok := v.Keys.Lookup(c.KID)
	switch {
	case !ok:
		return Claims{}, errKeyNotFound
	case len(key.Public) != ed25519.PublicKeySize:
		return Claims{}, errKeyBadPublic
	case key.Community != v.Community:
		return Claims{}, ErrWrongCommunity
	case !key.NotBefore.IsZero() && c.NotBefore.Before(key.NotBefore),
		!key.NotAfter.IsZero() && !c.NotBefore.Before(key.NotAfter):
		return Claims{}, errKeyNotActive
	}
	skew := v.skew()
	if !key.NotAfter.IsZero() && !now.Before(key.NotAfter.Add(RetiredKeyRetention(skew))) {
		return Claims{}, errKeyPublishEnd
	}

	switch c.Type {
	case TypeIssued, TypeCard:
		label := labelIssued
		if c.Type == TypeCard {
			label = labelCard
		}
		var msg [maxSimpleMsg]byte
		m := copy(msg[:], label)
		m += copy(msg[m:], raw[:simpleBody])
		if !ed25519.Verify(key.Public, msg[:m], raw[offSig:simpleLen]) {
			return Claims{}, errServerSig
		}
	case TypeDevice:
		var msg [certMsgLen]byte
		m := copy(msg[:], labelDeviceCert)
		copy(msg[m:], raw[:certBody])
		if !ed25519.Verify(key.Public, msg[:], raw[offCertSig:certLen]) {
			return Claims{}, errServerSig
		}
		if err := verifyPresentation(raw[:n], &c.DeviceKey); err != nil {
			return Claims{}, err
		}
	}

	if now.Before(c.NotBefore.Add(-skew)) {
		return Claims{}, errNotYetValid
	}
	if !now.Before(c.ExpiresAt.Add(skew)) {
		return Claims{}, errExpired
	}
	if c.Type == TypeDevice {
		start := time.Unix(int64(c.Counter)*int64(PresentationPeriod/time.Second), 0)
		if now.Before(start.Add(-skew)) {
			return Claims{}, errPresentationNew
		}
		if !now.Before(start.Add(PresentationPeriod + skew)) {
			return Claims{}, errPresentationOld
		}
	}
	return *c, nil
}

// verifyPresentation checks the phone's signature over label || cert ||
// counter. The key is SEC 1 compressed; the standard library only parses
// uncompressed keys, so it is decompressed first.
func verifyPresentation(b []byte, devKey *[DeviceKeySize]byte) error {
	sc := scratchPool.Get().(*deviceScratch)
	defer scratchPool.Put(sc)
	sc.key = *devKey
	x, y := elliptic.UnmarshalCompressed(elliptic.P256(), sc.key[:])
	if x == nil {
		return errBadDeviceKey
	}
	sc.point[0] = 4
	x.FillBytes(sc.point[1:33])
	y.FillBytes(sc.point[33:])
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), sc.point[:])
	if err != nil {
		return errBadDeviceKey
	}
	var msg [presMsgLen]byte
	m := copy(msg[:], labelPresentation)
	copy(msg[m:], b[:presBody])
	digest := sha256.Sum256(msg[:])
	d, ok := rawToDER(&sc.der, b[offPhoneSig:deviceLen])
	if !ok || !ecdsa.VerifyASN1(pub, digest[:], sc.der[:d]) {
		return errPhoneSig
	}
	return nil
}

// deviceScratch holds the inputs that crypto/elliptic and crypto/ecdsa take
// as slices. Escape analysis sends them to the heap (they pass through
// interface calls), although neither package keeps them after returning;
// pooling them keeps the device path free of allocations of our own.
type deviceScratch struct {
	key   [DeviceKeySize]byte
	point [65]byte
	der   [72]byte
}

var scratchPool = sync.Pool{New: func() any { return new(deviceScratch) }}

// rawToDER converts the fixed 64-byte r||s that travels in the QR code (no
// length bytes to waste) into the ASN.1 form crypto/ecdsa takes, in a
// caller-provided array. A zero r or s is refused here; out-of-range values
// are refused by ecdsa itself.
func rawToDER(dst *[72]byte, rs []byte) (int, bool) {
	n := 2
	for _, v := range [2][]byte{rs[:32], rs[32:64]} {
		for len(v) > 0 && v[0] == 0 {
			v = v[1:]
		}
		if len(v) == 0 {
			return 0, false
		}
		pad := int(v[0] >> 7) // a high bit would read as negative
		dst[n] = 0x02
		dst[n+1] = byte(len(v) + pad)
		dst[n+2] = 0
		n += 2 + pad
		n += copy(dst[n:], v)
	}
	dst[0], dst[1] = 0x30, byte(n-2)
	return n, true
}
