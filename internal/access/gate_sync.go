package access

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// GateSync is what a gate learns on one sync. Keys, zones, the gate and its commands are
// always complete (they are small); revocations, face changes and credential holders are
// all live ones when Full, else those since the cursor.
type GateSync struct {
	Cursor        int64
	Full          bool
	More          bool // more changes wait: sync again at once
	ServerTime    time.Time
	Gate          GateIdentity
	Keys          []SyncKey
	Zones         []ZoneRule
	Revocations   []Revocation
	Commands      []GateCommand
	FaceTemplates []GateFaceTemplate
	FacePurges    []FacePurge
	// Holders: every live credential with its holder when Full, else those created
	// since the cursor.
	Holders []CredentialHolder
	// ForeignKIDs are other communities' key ids past the gate's kid_after, by kid.
	ForeignKIDs []uint32
	// Access is who may enter where and when (groups, the time zone, lockdowns, the
	// offline limit): whole when Full or when any of it changed since the cursor, else
	// nil (the gate keeps what it has).
	Access *GateAccess
	// Memberships are holders' access groups: every holder's when Full, else those whose
	// groups changed since the cursor (or whose credentials are new: sent with Holders).
	Memberships []HolderGroups
}

// SyncRequest is what a gate asks a sync for.
type SyncRequest struct {
	Cursor int64 // the last change the gate holds; 0: send a snapshot
	// KIDAfter, when set, asks for the key ids of other communities greater than it
	// (GateSync.ForeignKIDs); nil: the gate does not ask (an older agent).
	KIDAfter *uint32
}

// CredentialHolder is who holds a credential: the resident for a resident's
// credentials, the visitor pass for a visitor's. Gates key anti-passback on the holder,
// so that one person's card, codes and devices are one.
type CredentialHolder struct {
	Credential uuid.UUID `db:"id" json:"credential_id"`
	Holder     uuid.UUID `db:"holder_id" json:"holder_id"`
}

// SyncKey is a signing key a gate must trust, from NotBefore until NotAfter (nil: the
// active key).
type SyncKey struct {
	KID       uint32
	Public    []byte
	NotBefore time.Time
	NotAfter  *time.Time
}

// ZoneRule is what a gate needs to know of a zone.
type ZoneRule struct {
	Zone         int  `db:"zone"`
	AntiPassback bool `db:"anti_passback"`
}

// Revocation is a revoked credential and when gates may forget it
// (ForgetRevocationAfter).
type Revocation struct {
	Credential  uuid.UUID
	ForgetAfter time.Time
}

// GateCommand is a command pending for one gate: a manual release or a face enrolment
// session.
type GateCommand struct {
	ID     uuid.UUID
	Kind   string // unlock | face_enrol
	Reason string
	// Payload is the command's own data: for face_enrol {resident_id, model?, expires_at}.
	Payload   json.RawMessage
	CreatedBy *uuid.UUID
	CreatedAt time.Time
}

// GateFaceTemplate is a resident's face template sealed to one gate: only that gate can
// open it.
type GateFaceTemplate struct {
	Template uuid.UUID
	Resident uuid.UUID
	Model    string
	Sealed   []byte
}

// FacePurge orders a gate to delete a resident's templates, then acknowledge the purge.
type FacePurge struct {
	Purge    uuid.UUID
	Resident uuid.UUID
	Reason   string // a consent.Reason
}
