package credential

import (
	"errors"
	"testing"
	"time"
)

// TestIssue checks that each kind's one mint function claims what the kind means and
// verifies at a gate over exactly its validity.
func TestIssue(t *testing.T) {
	s := vectorSigner(t)
	v := vectorVerifier(t)
	phone := newPhone(t)
	now := t0.Add(400 * time.Millisecond)
	w, err := IssuedWindow(now, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	code, err := IssueCode(s, credA, SubjectVisitor, 0b11, w.Validity)
	if err != nil {
		t.Fatal(err)
	}
	cardV := CardValidity(now, 30*24*time.Hour)
	card, err := IssueCard(s, credB, 0b1, cardV)
	if err != nil {
		t.Fatal(err)
	}
	devV := DeviceValidity(now)
	cert, err := IssueDeviceCert(s, credC, 0b101, devV, &phone.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	device, err := PresentDevice(cert, phone, now)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		text    string
		typ     Type
		subject Subject
		zones   uint64
		valid   Validity
	}{
		{"visitor code", code, TypeIssued, SubjectVisitor, 0b11, w.Validity},
		{"card", card, TypeCard, SubjectResident, 0b1, cardV},
		{"device", device, TypeDevice, SubjectResident, 0b101, devV},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := v.Verify(c.text, now)
			if err != nil {
				t.Fatal(err)
			}
			if got.Type != c.typ || got.Subject != c.subject || got.Zones != c.zones || got.KID != s.KID ||
				!got.NotBefore.Equal(c.valid.NotBefore) || !got.ExpiresAt.Equal(c.valid.ExpiresAt) {
				t.Fatalf("claims %+v", got)
			}
			if _, err := v.Verify(c.text, c.valid.ExpiresAt.Add(time.Hour)); !errors.Is(err, ErrExpired) {
				t.Fatalf("valid after its expiry: %v", err)
			}
		})
	}
	if _, err := IssueCard(s, credB, 1, CardValidity(now, MaxCardLifetime+time.Hour)); !errors.Is(err, ErrLifetime) {
		t.Fatalf("card beyond the format's lifetime: %v", err)
	}
}
