package access

import (
	"time"

	"github.com/google/uuid"
)

// GateBoxKey is a gate's X25519 public key, which a phone seals a resident's template to.
type GateBoxKey struct {
	Gate      uuid.UUID `db:"id" json:"gate_id"`
	PublicKey []byte    `db:"box_public_key" json:"box_public_key"`
}

// FaceSnapshot is what a gate must hold of face entry after a full sync: every template
// sealed to it, and every purge it has not acknowledged yet.
type FaceSnapshot struct {
	Templates []GateFaceTemplate
	Purges    []FacePurge
}

// GateTemplate says whether a gate holds a resident's template.
type GateTemplate struct {
	Gate        uuid.UUID `db:"id" json:"gate_id"`
	Name        string    `db:"name" json:"gate_name"`
	HasTemplate bool      `db:"has_template" json:"has_template"`
	OnGateOnly  bool      `db:"on_gate_only" json:"on_gate_only"`
}

// PurgeResult says what a purge of a resident's face data did.
type PurgeResult struct {
	Request   uuid.UUID `json:"purge_request_id"`
	Consent   bool      `json:"consent_ended"`
	Templates int       `json:"templates_deleted"`
	Gates     int       `json:"gates_notified"`
}

// GatePurge is one gate's state of a resident's latest purge.
type GatePurge struct {
	Gate        uuid.UUID  `db:"gate_id" json:"gate_id"`
	GateName    string     `db:"gate_name" json:"gate_name"`
	Purge       uuid.UUID  `db:"id" json:"purge_id"`
	Request     uuid.UUID  `db:"request_id" json:"purge_request_id"`
	Reason      string     `db:"reason" json:"reason"`
	RequestedAt time.Time  `db:"requested_at" json:"requested_at"`
	AckedAt     *time.Time `db:"acked_at" json:"acked_at,omitempty"`
	Acked       bool       `db:"acked" json:"acked"`
}

// EnrolSessionTTL is how long a one-gate enrolment session stays open at the gate: the
// resident walks to the reader right after starting it in the app.
const EnrolSessionTTL = 2 * time.Minute

// EnrolSession is a one-gate enrolment session as the app sees it.
type EnrolSession struct {
	ID        uuid.UUID  `db:"id" json:"id"`
	Gate      uuid.UUID  `db:"gate_id" json:"gate_id"`
	CreatedAt time.Time  `db:"created_at" json:"created_at"`
	ExpiresAt time.Time  `db:"expires_at" json:"expires_at"`
	AckedAt   *time.Time `db:"acked_at" json:"acked_at,omitempty"`
	Result    *string    `db:"result" json:"result,omitempty"` // enrolled | expired | failed
}

// FilingThreshold is the number of people whose face information a handler may process
// before it must file with the cyberspace administration (2025 face-recognition security
// measures); FilingWarnAt is where the count starts warning.
const (
	FilingThreshold = 100_000
	FilingWarnAt    = 90_000
)

// TemplateCount is how many people have face templates.
type TemplateCount struct {
	Scope       string           `json:"scope"` // "deployment" or "community"
	Residents   int              `json:"residents_with_templates"`
	Threshold   int              `json:"filing_threshold"`
	WarnAt      int              `json:"warn_at"`
	Warning     bool             `json:"warning"`
	Communities []CommunityCount `json:"communities"`
}

// CommunityCount is one community's share of a TemplateCount.
type CommunityCount struct {
	Community uuid.UUID `db:"community_id" json:"community_id"`
	Residents int       `db:"residents" json:"residents_with_templates"`
}

// CountTemplates totals the per-community counts of people with templates against the
// filing threshold; deployment is true when they cover the whole deployment, the scope
// the threshold counts (the deployment's operator is the handler).
func CountTemplates(perCommunity []CommunityCount, deployment bool) TemplateCount {
	out := TemplateCount{Scope: "community", Threshold: FilingThreshold, WarnAt: FilingWarnAt, Communities: perCommunity}
	if deployment {
		out.Scope = "deployment"
	}
	if out.Communities == nil {
		out.Communities = []CommunityCount{}
	}
	for _, cc := range out.Communities {
		out.Residents += cc.Residents // a resident belongs to one community
	}
	out.Warning = out.Residents >= FilingWarnAt
	return out
}
