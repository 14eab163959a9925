package gatesync_test

import (
	"net/http"
	"testing"
	"time"

	"gatepass/internal/access"
	"gatepass/internal/dbtest"
	"gatepass/server/internal/servertest"

	"github.com/google/uuid"
)

// A gate that takes a full snapshot gets every revocation it must still hold: one whose
// card expired 65 minutes ago still verifies at a gate with skew 3600, so the snapshot
// must carry it (issue 11, item 2; the snapshot's query once cut at one hour).
func TestSnapshotKeepsRevocationsForTheLargestSkew(t *testing.T) {
	h := servertest.New(t)
	f := h.Community()
	_, tok := h.EnrolledGate(f)
	card := h.Card(f, f.Resident)
	h.Must(http.StatusOK, "POST", "/admin/v1/residents/"+f.Resident+"/cards/"+card+"/revoke", f.Guard, nil)
	dbtest.Set(t, h.DB.SQL(), dbtest.Credentials, dbtest.Values{"expires_at": dbtest.Ago(65 * time.Minute), "revoked_at": dbtest.Ago(2 * time.Hour)}, dbtest.Eq("id", card))
	var expires time.Time
	dbtest.Get(t, h.DB.SQL(), &expires, dbtest.Credentials, "expires_at", dbtest.Eq("id", card))
	snap := h.Must(http.StatusOK, "GET", "/gate/v1/sync?cursor=0", tok, nil)
	revs := snap["revocations"].([]any)
	if len(revs) != 1 || revs[0].(map[string]any)["credential_id"] != card {
		t.Fatalf("snapshot revocations %v, want the card's", revs)
	}
	forget, err := time.Parse(time.RFC3339Nano, revs[0].(map[string]any)["forget_after"].(string))
	if err != nil || !forget.Equal(expires.Add(access.RevocationHorizon).UTC()) {
		t.Fatalf("forget_after %v, want %v: %v", forget, expires.Add(access.RevocationHorizon), err)
	}
	if !forget.After(expires.Add(access.MaxSkew)) {
		t.Fatalf("forgotten at %v before the card stops verifying at a gate with skew %v", forget, access.MaxSkew)
	}
}

// A QR credential has no expiry: its last code was minted just before the revocation and
// lives up to 300 s, so the snapshot keeps the revocation RevocationHorizon after that,
// not after the revocation itself.
func TestSnapshotKeepsQRRevocationsPastTheirLastCode(t *testing.T) {
	h := servertest.New(t)
	f := h.Community()
	_, tok := h.EnrolledGate(f)
	h.Must(http.StatusOK, "POST", "/admin/v1/communities/"+f.ID+"/residents/"+f.Resident+"/move-out", f.Admin, nil)
	qr := uuid.NewString()
	dbtest.Insert(t, h.DB.SQL(), dbtest.Credentials, dbtest.Values{"community_id": f.ID, "id": qr, "kind": "qr", "subject": "resident", "resident_id": f.Resident,
		"zones": 1, "revoked_at": dbtest.Ago(access.RevocationHorizon + 100*time.Second), "revoke_reason": "test"})
	var found bool
	for _, r := range h.Must(http.StatusOK, "GET", "/gate/v1/sync?cursor=0", tok, nil)["revocations"].([]any) {
		found = found || r.(map[string]any)["credential_id"] == qr
	}
	if !found {
		t.Fatal("a QR credential revoked horizon + 100 s ago, whose last code verifies for 200 s more at a gate with the largest skew, is not in the snapshot")
	}
}
