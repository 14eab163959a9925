package access

import (
	"fmt"
	"time"

	"github.com/google/uuid"
)

// A signing key declared compromised (its private half leaked, or may have) is withdrawn
// at once and for good, unlike a rotation, which keeps a retired key trusted for what it
// signed until that expires. Withdrawing it means:
//
//   - gates stop trusting it at their next sync (the sync's key list is complete on every
//     answer and leaves it out), so nothing it signed, genuine or forged, opens a door;
//   - if it was the key new passes are signed with, a new key takes over at once;
//   - every card and device certificate it signed is revoked (reason
//     RevokeKeyCompromised), so that staff reprint the cards (KeyCompromise lists them)
//     and phones certify their keys again;
//   - issued QR codes need nothing: phones fetch a fresh one, signed with the active
//     key, within a minute.

// RevokeKeyCompromised is the revoke reason of credentials signed by a compromised key:
// their holders did nothing wrong, so a phone certifies its key again and staff reprint
// the card.
const RevokeKeyCompromised = "key_compromised"

// ErrKeyCompromised refuses a credential signed by a key declared compromised meanwhile
// (a signer cached for a few seconds): sign it again with the active key.
var ErrKeyCompromised = fmt.Errorf("the signing key was declared compromised; sign again with the active key: %w", ErrConflict)

// KeyCompromise is what declaring a key compromised did.
type KeyCompromise struct {
	KID           uint32    `json:"kid"`
	CompromisedAt time.Time `json:"compromised_at"`
	// NewKey is the key made to sign from now on, when the compromised key was the one
	// signing (nil when it had been rotated out already).
	NewKey *KeyInfo `json:"new_key,omitempty"`
	// Revoked counts the credentials revoked: the cards to reprint and the devices.
	Revoked        int `json:"revoked"`
	DevicesRevoked int `json:"devices_revoked"`
	// CardsToReprint are the printed cards it signed that were still live: staff print
	// each resident a new card.
	CardsToReprint []CardToReprint `json:"cards_to_reprint"`
}

// CardToReprint is a printed card revoked because its key was compromised.
type CardToReprint struct {
	Card         uuid.UUID `db:"id" json:"card_id"`
	Resident     uuid.UUID `db:"resident_id" json:"resident_id"`
	ResidentName string    `db:"resident_name" json:"resident_name"`
	IssuedAt     time.Time `db:"created_at" json:"issued_at"`
	ExpiresAt    time.Time `db:"expires_at" json:"expires_at"`
}
