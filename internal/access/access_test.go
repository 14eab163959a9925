package access

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/credential"
)

func TestAuthorize(t *testing.T) {
	home, away := uuid.New(), uuid.New()
	admin := Staff{Role: StaffAdmin, Community: home}
	guard := Staff{Role: StaffGuard, Community: home}
	auditor := Staff{Role: StaffAuditor, Community: home}
	operator := Staff{Role: StaffAdmin}
	opAuditor := Staff{Role: StaffAuditor}
	cases := []struct {
		name  string
		staff Staff
		act   Action
		c     uuid.UUID
		want  error
	}{
		{"admin edits home", admin, ActEditResidents, home, nil},
		{"admin of another community", admin, ActReadCommunity, away, ErrNotFound},
		{"guard operates gates", guard, ActOperateGates, home, nil},
		{"guard cannot manage staff", guard, ActManageStaff, home, ErrForbidden},
		{"guard cannot read audit", guard, ActReadAudit, home, ErrForbidden},
		{"auditor reads audit", auditor, ActReadAudit, home, nil},
		{"auditor changes nothing", auditor, ActEditStructure, home, ErrForbidden},
		{"auditor reads residents", auditor, ActReadResidents, home, nil},
		{"auditor changes no resident", auditor, ActEditResidents, home, ErrForbidden},
		{"community admin cannot create communities", admin, ActCreateCommunity, uuid.Nil, ErrForbidden},
		{"operator creates communities", operator, ActCreateCommunity, uuid.Nil, nil},
		{"operator sees any community", operator, ActEditResidents, away, nil},
		{"operator auditor is still read-only", opAuditor, ActEditResidents, away, ErrForbidden},
		{"unknown action", admin, Action("nope"), home, ErrForbidden},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.staff.Authorize(c.act, c.c)
			if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("Authorize = %v, want %v", err, c.want)
			}
		})
	}
	if err := admin.MayCreateStaff(uuid.Nil); !errors.Is(err, ErrForbidden) {
		t.Fatalf("community admin made an operator: %v", err)
	}
	if err := operator.MayCreateStaff(uuid.Nil); err != nil {
		t.Fatalf("operator cannot make an operator: %v", err)
	}
}

func TestZoneMask(t *testing.T) {
	m, err := MaskOf(0, 3, 63)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Has(0) || !m.Has(63) || m.Has(1) || m.Has(64) || m.Has(-1) {
		t.Fatalf("mask %b", m)
	}
	if got := m.Zones(); len(got) != 3 || got[2] != 63 {
		t.Fatalf("zones %v", got)
	}
	if _, err := MaskOf(64); !errors.Is(err, ErrInvalid) {
		t.Fatalf("MaskOf(64) = %v", err)
	}
	inner, _ := MaskOf(0, 3)
	if !inner.Within(m) || m.Within(inner) {
		t.Fatal("Within is wrong")
	}
	if ZonesForResident([]int{1, 99}) != 0b11 {
		t.Fatalf("ZonesForResident = %b", ZonesForResident([]int{1, 99}))
	}
}

// A revocation is held until nothing the credential could show still verifies at any
// gate, whatever skew staff gave it (issue 11, item 2): the last instant a card verifies
// at a gate with skew s is its expiry + s; an issued code (a QR credential, no expiry) was
// minted at the latest just before the revocation and lives at most MaxIssuedLifetime.
func TestForgetRevocationAfter(t *testing.T) {
	revoked := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	card := revoked.Add(30 * 24 * time.Hour)
	soon := revoked.Add(time.Minute) // a visitor pass ending a minute after the revocation
	past := revoked.Add(-time.Hour)  // an expired card revoked afterwards
	cases := []struct {
		name    string
		expires *time.Time
		last    time.Time // the credential's last valid instant at a gate with no skew
	}{
		{"qr credential, no expiry", nil, revoked.Add(credential.MaxIssuedLifetime)},
		{"card", &card, card},
		{"expiry before the last issued code", &soon, revoked.Add(credential.MaxIssuedLifetime)},
		{"already expired", &past, revoked.Add(credential.MaxIssuedLifetime)},
	}
	for _, c := range cases {
		forget := ForgetRevocationAfter(revoked, c.expires)
		for skew := 0; skew <= MaxSkewSeconds; skew++ {
			if lastValid := c.last.Add(time.Duration(skew) * time.Second); !forget.After(lastValid) {
				t.Fatalf("%s, skew %d s: forgotten at %v, still valid until %v", c.name, skew, forget, lastValid)
			}
		}
		if want := c.last.Add(MaxSkew + revocationMargin); !forget.Equal(want) {
			t.Errorf("%s: forget after %v, want %v", c.name, forget, want)
		}
	}
	if MaxSkew != time.Duration(MaxSkewSeconds)*time.Second {
		t.Fatal("MaxSkew and MaxSkewSeconds disagree")
	}
	// The largest skew a gate may be given is the one the rule covers.
	if _, err := (GateSettings{SkewSeconds: Int(MaxSkewSeconds)}).Validate(); err != nil {
		t.Fatalf("skew %d refused: %v", MaxSkewSeconds, err)
	}
	if field, err := (GateSettings{SkewSeconds: Int(MaxSkewSeconds + 1)}).Validate(); err == nil || field != "skew_seconds" {
		t.Fatalf("skew %d accepted: %q %v", MaxSkewSeconds+1, field, err)
	}
}
