package credential

import (
	"crypto/ecdsa"

	"github.com/google/uuid"
)

// One function signs each kind of credential gatepass issues, so what a kind claims (its
// subject, its zones, its validity) is decided in one place: mobile-api and the store
// call these and nothing else signs. MintIssued, MintCard and CertifyDevice are the
// format's primitives beneath them, for the test vectors and load tests.

// IssueCode signs a rotating QR code (type 0x01) of a resident's or a visitor's
// credential, valid over v (an IssuedWindow).
func IssueCode(s Signer, id uuid.UUID, subject Subject, zones uint64, v Validity) (string, error) {
	return MintIssued(s, Claims{CredentialID: id, Subject: subject, Zones: zones, NotBefore: v.NotBefore, ExpiresAt: v.ExpiresAt})
}

// IssueDeviceCert signs the certificate that lets a resident's phone key make offline
// codes (type 0x02), valid over v (DeviceValidity).
func IssueDeviceCert(s Signer, id uuid.UUID, zones uint64, v Validity, phone *ecdsa.PublicKey) ([]byte, error) {
	return CertifyDevice(s, Claims{CredentialID: id, Subject: SubjectResident, Zones: zones, NotBefore: v.NotBefore, ExpiresAt: v.ExpiresAt}, phone)
}

// IssueCard signs a resident's printed card (type 0x03), valid over v (CardValidity).
func IssueCard(s Signer, id uuid.UUID, zones uint64, v Validity) (string, error) {
	return MintCard(s, Claims{CredentialID: id, Subject: SubjectResident, Zones: zones, NotBefore: v.NotBefore, ExpiresAt: v.ExpiresAt})
}

// IssuePassholderCard signs the printed card (type 0x03) of someone who is not a resident
// (staff, a cleaner, a courier, a contractor: subject staff), valid over v (CardValidity).
// What it opens and when is its holder's group's to say at the gate; zones are the
// group's, for a gate that has not heard of the holder yet.
func IssuePassholderCard(s Signer, id uuid.UUID, zones uint64, v Validity) (string, error) {
	return MintCard(s, Claims{CredentialID: id, Subject: SubjectStaff, Zones: zones, NotBefore: v.NotBefore, ExpiresAt: v.ExpiresAt})
}
