package agent

import (
	"time"

	"github.com/google/uuid"

	"gatepass/internal/gate"
)

// Report is `gate-agent check`'s answer: what the gate would decide, and why.
type Report struct {
	Result     string     `json:"result"`
	Reason     string     `json:"reason"`
	Detail     string     `json:"detail,omitempty"`
	Credential *uuid.UUID `json:"credential_id,omitempty"`
	Type       string     `json:"type,omitempty"`
	Subject    string     `json:"subject,omitempty"`
	Zones      uint64     `json:"zones,omitempty"`
	NotBefore  *time.Time `json:"not_before,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	Stale      bool       `json:"stale,omitempty"`
	// OfflineLimit: decided past the community's offline limit.
	OfflineLimit bool `json:"offline_limit,omitempty"`
}

// CheckReport describes a decision for installers.
func CheckReport(d gate.Decision) Report {
	r := Report{Result: "denied", Reason: string(d.Reason), Detail: errString(d.Detail), Stale: d.Stale,
		OfflineLimit: d.OfflineLimit}
	if d.Granted {
		r.Result = "granted"
	}
	if d.Verified {
		c := d.Claims
		r.Credential, r.Type, r.Subject, r.Zones = &c.CredentialID, c.Type.String(), c.Subject.String(), c.Zones
		r.NotBefore, r.ExpiresAt = &c.NotBefore, &c.ExpiresAt
	}
	return r
}
