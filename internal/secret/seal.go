package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// MasterKeySize is the length of the AES-256 master key.
const MasterKeySize = 32

// ErrOpen is returned when sealed data does not open: wrong key, tampering, or the wrong
// associated data (a key sealed for one community moved to another).
var ErrOpen = errors.New("sealed data does not open")

// Sealer encrypts small secrets (signing keys) with AES-256-GCM under the master key.
type Sealer struct {
	aead   cipher.AEAD
	master []byte // for DeriveKey only
}

// NewSealer takes the 32-byte master key.
func NewSealer(masterKey []byte) (*Sealer, error) {
	if len(masterKey) != MasterKeySize {
		return nil, fmt.Errorf("master key: want %d bytes, got %d", MasterKeySize, len(masterKey))
	}
	block, err := aes.NewCipher(masterKey)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	return &Sealer{aead: aead, master: append([]byte(nil), masterKey...)}, nil
}

// DeriveKey gives a 32-byte key for one purpose (label), independent of the sealing key
// and of every other label's key (HMAC-SHA256 of the label under the master key), so one
// master key can serve several uses without one exposing another.
func (s *Sealer) DeriveKey(label string) []byte {
	m := hmac.New(sha256.New, s.master)
	m.Write([]byte("gatepass/derive/v1\x00" + label))
	return m.Sum(nil)
}

// Seal encrypts plaintext bound to ad (for example the community id and key id), giving
// nonce || ciphertext.
func (s *Sealer) Seal(plaintext, ad []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return s.aead.Seal(nonce, nonce, plaintext, ad), nil
}

// Open reverses Seal.
func (s *Sealer) Open(sealed, ad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, ErrOpen
	}
	pt, err := s.aead.Open(nil, sealed[:n], sealed[n:], ad)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// ParseMasterKey reads a master key file's contents: 64 hex characters or the standard
// base64 of 32 bytes, surrounding white space ignored.
func ParseMasterKey(data []byte) ([]byte, error) {
	text := strings.TrimSpace(string(data))
	if k, err := hex.DecodeString(text); err == nil && len(k) == MasterKeySize {
		return k, nil
	}
	if k, err := base64.StdEncoding.DecodeString(text); err == nil && len(k) == MasterKeySize {
		return k, nil
	}
	return nil, fmt.Errorf("master key: want %d bytes as 64 hex characters or base64", MasterKeySize)
}
