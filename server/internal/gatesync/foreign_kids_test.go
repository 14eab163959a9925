package gatesync_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"gatepass/internal/dbtest"
	"gatepass/server/internal/servertest"
)

func kidsOf(t *testing.T, sync map[string]any) []uint32 {
	t.Helper()
	list, ok := sync["foreign_kids"].([]any)
	if !ok {
		t.Fatalf("sync without foreign_kids: %v", sync["foreign_kids"])
	}
	out := make([]uint32, len(list))
	for i, k := range list {
		out[i] = uint32(k.(float64))
	}
	return out
}

// A gate that sends kid_after learns the key ids of the other communities past it
// (issue 11, item 7, server side), so that it refuses another estate's code as
// wrong_community: ids only, in order, never its own community's, compromised ones
// included (a code signed by one is still another estate's), and kid_after is a whole
// number below 2^32 or the request is refused with 400.
func TestSyncForeignKIDs(t *testing.T) {
	h := servertest.New(t)
	f, b, c := h.Community(), h.Community(), h.Community()
	_, tok := h.EnrolledGate(f)
	h.Must(http.StatusCreated, "POST", "/admin/v1/communities/"+b.ID+"/keys/rotate", b.Admin, nil)
	ownKID := uint32(h.Must(http.StatusCreated, "POST", "/admin/v1/communities/"+f.ID+"/keys/rotate", f.Admin, nil)["kid"].(float64))
	var cKID uint32
	dbtest.Get(t, h.DB.SQL(), &cKID, dbtest.SigningKeys, "kid", dbtest.Eq("community_id", c.ID))
	h.Must(http.StatusOK, "POST", fmt.Sprintf("/admin/v1/communities/%s/keys/%d/compromise", c.ID, cKID), c.Admin, map[string]any{"reason": "test"})

	var own, foreign []uint32
	dbtest.List(t, h.DB.SQL(), &own, dbtest.SigningKeys, "kid", dbtest.Eq("community_id", f.ID))
	dbtest.List(t, h.DB.SQL(), &foreign, dbtest.SigningKeys, "kid", dbtest.Ne("community_id", f.ID))
	got := kidsOf(t, h.Must(http.StatusOK, "GET", "/gate/v1/sync?cursor=0&kid_after=0", tok, nil))
	if !slices.Equal(got, foreign) || !slices.Contains(got, cKID) || slices.Contains(got, ownKID) {
		t.Fatalf("foreign kids %v, want %v (own %v)", got, foreign, own)
	}
	after := foreign[len(foreign)/2]
	if got := kidsOf(t, h.Must(http.StatusOK, "GET", fmt.Sprintf("/gate/v1/sync?cursor=0&kid_after=%d", after), tok, nil)); !slices.Equal(got, foreign[len(foreign)/2+1:]) {
		t.Fatalf("foreign kids after %d: %v", after, got)
	}
	// Without kid_after (an older agent) nothing is sent.
	snap := h.Must(http.StatusOK, "GET", "/gate/v1/sync?cursor=0", tok, nil)
	if got := kidsOf(t, snap); len(got) != 0 {
		t.Fatalf("foreign kids without kid_after: %v", got)
	}
	cursor := int64(snap["cursor"].(float64))
	// New ids answer a long poll at once; none new, it waits.
	start := time.Now()
	h.Must(http.StatusOK, "GET", fmt.Sprintf("/gate/v1/sync?cursor=%d&wait=5s&kid_after=%d", cursor, after), tok, nil)
	if time.Since(start) > 2*time.Second {
		t.Fatalf("a long poll with new foreign kids waited %v", time.Since(start))
	}
	start = time.Now()
	last := foreign[len(foreign)-1]
	d := h.Must(http.StatusOK, "GET", fmt.Sprintf("/gate/v1/sync?cursor=%d&wait=1s&kid_after=%d", cursor, last), tok, nil)
	if len(kidsOf(t, d)) != 0 || time.Since(start) < 900*time.Millisecond {
		t.Fatalf("long poll with nothing new: %v after %v", d["foreign_kids"], time.Since(start))
	}
	for _, bad := range []string{"-1", "4294967296", "abc", "+5", "", "1.5", "0x10", " 3"} {
		h.Must(http.StatusBadRequest, "GET", "/gate/v1/sync?cursor=0&kid_after="+bad, tok, nil)
	}
	h.Must(http.StatusOK, "GET", "/gate/v1/sync?cursor=0&kid_after=4294967295", tok, nil)

	// Many communities: bounded answers, More until the gate has them all.
	if _, err := h.DB.SQL().Exec(`INSERT INTO signing_keys (community_id, kid, public_key, private_key_enc, retired_at, publish_until)
		SELECT $1, nextval('signing_key_kid_seq'), decode(repeat('ab', 32), 'hex'), '\x00', now(), now() FROM generate_series(1, 10500)`, b.ID); err != nil {
		t.Fatal(err)
	}
	// Keys made through the store notify every server's hub, which keeps the largest kid
	// until one does (store.ChangeHub); the rows above were not, so a community made the
	// product's way follows them, as a real key change would.
	late := h.Community()
	var dKID uint32
	dbtest.Get(t, h.DB.SQL(), &dKID, dbtest.SigningKeys, "kid", dbtest.Eq("community_id", late.ID))
	var all []uint32
	for n := 0; ; n++ {
		s := h.Must(http.StatusOK, "GET", fmt.Sprintf("/gate/v1/sync?cursor=0&kid_after=%d", last), tok, nil)
		got := kidsOf(t, s)
		if len(got) > 10000 || n > 3 {
			t.Fatalf("answer %d: %d kids", n, len(got))
		}
		all = append(all, got...)
		if s["more"] != true {
			break
		}
		last = got[len(got)-1]
	}
	if len(all) != 10501 || !slices.IsSorted(all) || all[len(all)-1] != dKID {
		t.Fatalf("gathered %d kids", len(all))
	}
}
