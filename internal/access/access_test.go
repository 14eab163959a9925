package access

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
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
		{"auditor sees no residents", auditor, ActReadResidents, home, ErrForbidden},
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

func TestForgetRevocationAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	later := now.Add(30 * 24 * time.Hour)
	if got := ForgetRevocationAfter(now, nil); got != now.Add(revocationMargin) {
		t.Fatalf("no expiry: %v", got)
	}
	if got := ForgetRevocationAfter(now, &later); got != later.Add(revocationMargin) {
		t.Fatalf("device cert: %v", got)
	}
}
