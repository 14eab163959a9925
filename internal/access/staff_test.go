package access

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
)

const day = 24 * time.Hour

// Every role manages its own tokens; another member's tokens are an admin's, in the
// admin's communities only.
func TestAuthorizeMember(t *testing.T) {
	home, away := uuid.New(), uuid.New()
	admin := Staff{ID: uuid.New(), Role: StaffAdmin, Community: home}
	guard := Staff{ID: uuid.New(), Role: StaffGuard, Community: home}
	auditor := Staff{ID: uuid.New(), Role: StaffAuditor, Community: home}
	operator := Staff{ID: uuid.New(), Role: StaffAdmin}
	other := uuid.New()
	cases := []struct {
		name   string
		staff  Staff
		act    Action
		c      uuid.UUID
		target uuid.UUID
		want   error
	}{
		{"guard's own tokens", guard, ActStaffTokens, home, guard.ID, nil},
		{"auditor's own tokens", auditor, ActStaffTokens, home, auditor.ID, nil},
		{"admin's own tokens", admin, ActStaffTokens, home, admin.ID, nil},
		{"guard, another member's tokens", guard, ActStaffTokens, home, other, ErrForbidden},
		{"auditor, another member's tokens", auditor, ActStaffTokens, home, admin.ID, ErrForbidden},
		{"admin, another member's tokens", admin, ActStaffTokens, home, guard.ID, nil},
		{"operator, a member's tokens", operator, ActStaffTokens, home, guard.ID, nil},
		{"admin, tokens in another community", admin, ActStaffTokens, away, other, ErrNotFound},
		{"guard cannot disable itself", guard, ActManageStaff, home, guard.ID, ErrForbidden},
		{"admin disables a member", admin, ActManageStaff, home, guard.ID, nil},
		{"admin of another community disables", admin, ActManageStaff, away, other, ErrNotFound},
		{"every role reads itself", auditor, ActReadSelf, uuid.Nil, uuid.Nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.staff.AuthorizeMember(c.act, c.c, c.target)
			if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("AuthorizeMember = %v, want %v", err, c.want)
			}
		})
	}
}

func TestTokenTTL(t *testing.T) {
	cases := []struct {
		name      string
		kind      TokenKind
		requested time.Duration
		def       time.Duration
		want      time.Duration // 0: refused
	}{
		{"default", TokenConsole, 0, DefaultTokenTTL, 90 * day},
		{"configured default", TokenConsole, 0, 30 * day, 30 * day},
		{"asked", TokenConsole, 7 * day, DefaultTokenTTL, 7 * day},
		{"console at its maximum", TokenConsole, 180 * day, DefaultTokenTTL, 180 * day},
		{"console past its maximum", TokenConsole, 181 * day, DefaultTokenTTL, 0},
		{"integration for a year", TokenIntegration, 365 * day, DefaultTokenTTL, 365 * day},
		{"integration past a year", TokenIntegration, 366 * day, DefaultTokenTTL, 0},
		{"integration by default", TokenIntegration, 0, DefaultTokenTTL, 90 * day},
		{"under an hour", TokenConsole, time.Minute, DefaultTokenTTL, 0},
		{"negative", TokenConsole, -day, DefaultTokenTTL, 0},
		{"a default too long for a console token", TokenConsole, 0, 200 * day, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := TokenTTL(c.kind, c.requested, c.def)
			if c.want == 0 {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("TokenTTL = %v, %v; want ErrInvalid", got, err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("TokenTTL = %v, %v; want %v", got, err, c.want)
			}
		})
	}
}

func TestParseTTL(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration // -1: refused
	}{
		{"90d", 90 * day},
		{"1d", day},
		{"36h", 36 * time.Hour},
		{"2160h", 90 * day},
		{"0d", 0},
		{"d", -1},
		{"-3d", -1},
		{"1.5d", -1},
		{"90 days", -1},
		{"", -1},
		{"999999999d", -1},
	}
	for _, c := range cases {
		got, err := ParseTTL(c.in)
		if c.want < 0 {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("ParseTTL(%q) = %v, %v; want ErrInvalid", c.in, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseTTL(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	if s := FormatTTL(90 * day); s != "90d" {
		t.Errorf("FormatTTL(90 days) = %q", s)
	}
	if s := FormatTTL(36 * time.Hour); s != "36h0m0s" {
		t.Errorf("FormatTTL(36h) = %q", s)
	}
}

func TestPhoneByRole(t *testing.T) {
	admin := Staff{Role: StaffAdmin, Community: uuid.New()}
	operator := Staff{Role: StaffAdmin}
	guard := Staff{Role: StaffGuard, Community: uuid.New()}
	auditor := Staff{Role: StaffAuditor, Community: uuid.New()}
	cases := []struct {
		name  string
		staff Staff
		phone string
		want  string
	}{
		{"admin sees it whole", admin, "13812345678", "13812345678"},
		{"operator sees it whole", operator, "+86 138 1234 5678", "+86 138 1234 5678"},
		{"guard: mobile number", guard, "13812345678", "138****5678"},
		{"guard: with separators", guard, "138-1234-5678", "138****5678"},
		{"guard: international", guard, "+86 138 1234 5678", "+861****5678"},
		{"guard: landline", guard, "8765 4321", "****4321"},
		{"guard: ten digits", guard, "0201234567", "****4567"},
		{"guard: too short to show anything", guard, "1234567", "****"},
		{"guard: no digits", guard, "ask the desk", "****"},
		{"guard: empty", guard, "", ""},
		{"auditor: masked too", auditor, "13812345678", "138****5678"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.staff.Phone(c.phone); got != c.want {
				t.Fatalf("Phone(%q) = %q, want %q", c.phone, got, c.want)
			}
		})
	}
}
