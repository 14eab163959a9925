// Package secret makes and checks the bearer secrets of gatepass (staff tokens, gate
// tokens, invite and enrollment codes, sessions) and seals private keys under the master
// key. Secrets are stored only as their SHA-256.
package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// ErrMalformed is returned for a token that cannot be one of ours.
var ErrMalformed = errors.New("malformed token")

// Kinds of token; the prefix tells a human (and a secret scanner) what leaked.
const (
	KindStaff       = "gps"
	KindGate        = "gpg"
	KindInvite      = "gpi"
	KindEnrollment  = "gpe"
	KindSession     = "gpr"
	KindVisitor     = "gpv"
	KindStaffInvite = "gpk" // a one-time link for a staff member to register a console passkey
	KindConsole     = "gpc" // a staff console session (the cookie)
)

const randomBytes = 32

var enc = base64.RawURLEncoding

// Hash is the stored form of a token.
type Hash [sha256.Size]byte

// Token is a freshly made secret: Plain is shown once, Hash is stored.
type Token struct {
	Plain string
	Hash  Hash
}

// New makes a token of the given kind. The community it belongs to travels inside it
// (uuid.Nil for deployment-wide tokens), so the server finds the row by community and
// hash: every community-owned table keys on community_id.
func New(kind string, community uuid.UUID) (Token, error) {
	var raw [16 + randomBytes]byte
	copy(raw[:16], community[:])
	if _, err := rand.Read(raw[16:]); err != nil {
		return Token{}, fmt.Errorf("new %s token: %w", kind, err)
	}
	plain := kind + "_" + enc.EncodeToString(raw[:])
	return Token{Plain: plain, Hash: sha256.Sum256([]byte(plain))}, nil
}

// Parse checks the shape of a token of the given kind and returns its community and hash.
// It says nothing about whether the token exists.
func Parse(kind, plain string) (uuid.UUID, Hash, error) {
	body, ok := strings.CutPrefix(plain, kind+"_")
	if !ok || len(body) != enc.EncodedLen(16+randomBytes) {
		return uuid.Nil, Hash{}, ErrMalformed
	}
	var raw [16 + randomBytes]byte
	n, err := enc.Decode(raw[:], []byte(body))
	if err != nil || n != len(raw) {
		return uuid.Nil, Hash{}, ErrMalformed
	}
	return uuid.UUID(raw[:16]), sha256.Sum256([]byte(plain)), nil
}
