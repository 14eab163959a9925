package access

import "time"

// KeyInfo is a community signing key as staff see it: never the private half.
type KeyInfo struct {
	KID          uint32     `db:"kid" json:"kid"`
	Public       []byte     `db:"public_key" json:"public_key"`
	CreatedAt    time.Time  `db:"created_at" json:"created_at"`
	RetiredAt    *time.Time `db:"retired_at" json:"retired_at,omitempty"`
	PublishUntil *time.Time `db:"publish_until" json:"publish_until,omitempty"`
	// CompromisedAt: staff declared the key compromised; gates never trust it again.
	CompromisedAt *time.Time `db:"compromised_at" json:"compromised_at,omitempty"`
}

// KeyRotationGrace is how long a retired key still counts as active after a rotation:
// signers cached in mobile-api copies (a few seconds) keep minting with it meanwhile, and
// their codes must not be refused for a not_before after the retirement.
const KeyRotationGrace = 30 * time.Second
