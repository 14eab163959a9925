package secret

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// A short code is the typable fallback of a secret that is normally handed over as a
// link or a QR code (an invite): someone reads it off a printed slip and types it on a
// phone. So it is short, grouped and in an alphabet with nothing to confuse:
// Crockford's base32 (digits and capitals without I, L, O and U), 12 symbols written
// as three groups of four, "7K2M-QX9D-4HTR". Typing is forgiving: case, spaces and
// hyphens do not matter, and O, I and L are read as 0, 1 and 1.
//
// The first two symbols are the community's bucket (ShortBucket: 10 bits of the SHA-256
// of its id), the other ten are 50 random bits. The bucket lets the lookup find the
// community before it touches a community table, so the code needs no global index (on
// Citus every table is distributed by community): the bucket names the few communities
// to look in. The random part alone is what an attacker must guess.
const (
	ShortCodeLen  = 12
	ShortBuckets  = 1024 // two symbols of 5 bits
	shortAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	shortRandom   = ShortCodeLen - 2
)

// ShortBucket is the bucket of a community's short codes.
func ShortBucket(community uuid.UUID) int {
	h := sha256.Sum256(community[:])
	return int(binary.BigEndian.Uint16(h[:2])) % ShortBuckets
}

// Short is a freshly made short code: Plain is shown once (grouped), Normal is what
// ShortHash is computed over.
type Short struct {
	Plain, Normal string
}

// NewShort makes a short code for a community.
func NewShort(community uuid.UUID) (Short, error) {
	var b [shortRandom]byte
	if _, err := rand.Read(b[:]); err != nil {
		return Short{}, fmt.Errorf("new short code: %w", err)
	}
	bucket := ShortBucket(community)
	var s strings.Builder
	s.WriteByte(shortAlphabet[bucket>>5])
	s.WriteByte(shortAlphabet[bucket&31])
	for _, x := range b {
		s.WriteByte(shortAlphabet[x&31]) // 256 is a multiple of 32: each symbol is uniform
	}
	n := s.String()
	return Short{Plain: n[:4] + "-" + n[4:8] + "-" + n[8:], Normal: n}, nil
}

// ParseShort reads a typed short code: its normal form and its community bucket, or
// ErrMalformed. It says nothing about whether the code exists.
func ParseShort(typed string) (normal string, bucket int, err error) {
	var s strings.Builder
	for _, r := range strings.ToUpper(typed) {
		switch r {
		case ' ', '-', '\t':
			continue
		case 'O':
			r = '0'
		case 'I', 'L':
			r = '1'
		}
		if r > 'Z' || !strings.ContainsRune(shortAlphabet, r) {
			return "", 0, ErrMalformed
		}
		s.WriteRune(r)
	}
	normal = s.String()
	if len(normal) != ShortCodeLen {
		return "", 0, ErrMalformed
	}
	return normal, strings.IndexByte(shortAlphabet, normal[0])<<5 | strings.IndexByte(shortAlphabet, normal[1]), nil
}

// ShortHash is the stored form of a short code: an HMAC under a key derived from the
// master key, because 50 bits are few enough to search offline if a copy of the
// database leaked with a plain hash.
func ShortHash(key []byte, normal string) Hash {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(normal))
	var h Hash
	copy(h[:], m.Sum(nil))
	return h
}
