package gatesync_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/apitest"
	"gatepass/internal/consent"
	"gatepass/internal/dbtest"
	"gatepass/internal/store"
	"gatepass/server/internal/servertest"
)

// One bad event never blocks a gate's queue or breaks a staff view (issue 11, item 9):
// every field is checked, and a bad event is refused by its index with 422 and
// field "events[N]", the contract the agent reads to set that one event aside and send
// the rest again at once. Before, a NUL in reason or an offset of +23:59 failed the
// whole batch with 500 (the agent retried it forever; a time is now stored in UTC), an empty replay_key was stored
// and made the anomalies endpoint answer 500, a face event dated 2199 was stored, and a
// reason of =HYPERLINK(...) went into the CSV export as a formula.
func TestEventIngestRefusesBadEventsByIndex(t *testing.T) {
	h := servertest.New(t)
	f := h.Community()
	gate, tok := h.EnrolledGate(f)
	otherGate, _ := h.EnrolledGate(f)
	now := time.Now().UTC()
	at := func(t time.Time) func(e map[string]any) {
		return func(e map[string]any) { e["occurred_at"] = t.Format(time.RFC3339Nano) }
	}
	bad := []struct {
		name string
		edit func(e map[string]any)
	}{
		{"empty replay_key", func(e map[string]any) { e["replay_key"] = "" }},
		{"short replay_key", func(e map[string]any) { e["replay_key"] = "AQID" }},
		{"replay_key of no token type", func(e map[string]any) { e["replay_key"] = replayKey(9) }},
		{"NUL in reason", func(e map[string]any) { e["reason"] = "ok\x00" }},
		{"escape in reason", func(e map[string]any) { e["reason"] = "ok\x1b[2J" }},
		{"formula in reason", func(e map[string]any) { e["reason"] = `=HYPERLINK("http://evil.example/","x")` }},
		{"empty reason", func(e map[string]any) { e["reason"] = "" }},
		{"not a time", func(e map[string]any) { e["occurred_at"] = "yesterday" }},
		{"dated 2199", at(time.Date(2199, 1, 1, 0, 0, 0, 0, time.UTC))},
		{"three hours ahead", at(now.Add(3 * time.Hour))},
		{"older than the retention", at(now.Add(-200 * 24 * time.Hour))},
		{"nil credential", func(e map[string]any) { e["credential_id"] = uuid.Nil.String() }},
		{"nil staff", func(e map[string]any) { e["method"], e["staff_id"] = "manual", uuid.Nil.String() }},
		{"nil id", func(e map[string]any) { e["id"] = uuid.Nil.String() }},
		{"dropped 0", func(e map[string]any) { e["reason"], e["dropped"] = "flood_suppressed", 0 }},
		{"unknown field", func(e map[string]any) { e["colour"] = "red" }},
		{"wrong type", func(e map[string]any) { e["offline"] = "yes" }},
		{"another gate", func(e map[string]any) { e["gate_id"] = otherGate }},
		{"not an object", nil},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			h.T = t
			first, middle, last := servertest.GateEvent(gate, "granted"), any(servertest.GateEvent(gate, "granted")), servertest.GateEvent(gate, "denied")
			if b.edit != nil {
				b.edit(middle.(map[string]any))
			} else {
				middle = "not an event"
			}
			got, out := h.Do("POST", "/gate/v1/events", tok, map[string]any{"events": []any{first, middle, last}})
			errBody, _ := out["error"].(map[string]any)
			if got != http.StatusUnprocessableEntity || errBody["field"] != "events[1]" {
				t.Fatalf("%d %v, want 422 with field events[1]", got, out)
			}
			if rej, _ := out["rejected"].([]any); len(rej) != 1 || rej[0].(map[string]any)["index"] != 1.0 {
				t.Fatalf("rejected %v, want index 1", out["rejected"])
			}
			if n := countEvents(t, h.DB, gate); n != 0 {
				t.Fatalf("a refused batch stored %d events", n)
			}
			// What the agent does next: the rest goes again, and is stored.
			h.Must(http.StatusOK, "POST", "/gate/v1/events", tok, map[string]any{"events": []any{first, last}})
			if n := countEvents(t, h.DB, gate); n != 2 {
				t.Fatalf("the rest of the batch: %d events stored, want 2", n)
			}
			dbtest.Delete(t, h.DB.SQL(), dbtest.EntryEvents, dbtest.Eq("gate_id", gate))
		})
	}
	h.T = t
	// Several bad events: each is named, the first in error.field.
	batch := []any{servertest.GateEvent(gate, "granted"), servertest.GateEvent(gate, "granted"), servertest.GateEvent(gate, "granted")}
	batch[0].(map[string]any)["reason"], batch[2].(map[string]any)["replay_key"] = "\x00", ""
	got, out := h.Do("POST", "/gate/v1/events", tok, map[string]any{"events": batch})
	if rej, _ := out["rejected"].([]any); got != 422 || out["error"].(map[string]any)["field"] != "events[0]" || len(rej) != 2 ||
		rej[1].(map[string]any)["index"] != 2.0 || rej[1].(map[string]any)["id"] != batch[2].(map[string]any)["id"] {
		t.Fatalf("two bad events: %d %v", got, out)
	}

	// Good events at the edges of the window are stored, their times in UTC.
	good := []struct {
		name string
		at   string
	}{
		{"offset +14:30", now.In(time.FixedZone("", 14*3600+1800)).Format(time.RFC3339Nano)},
		{"offset +23:59 (valid RFC 3339, beyond PostgreSQL's offsets)", now.In(time.FixedZone("", 23*3600+59*60)).Format(time.RFC3339Nano)},
		{"offset -23:59", now.In(time.FixedZone("", -23*3600-59*60)).Format(time.RFC3339Nano)},
		{"ninety minutes ahead (a gate clock off by more than any skew)", now.Add(90 * time.Minute).Format(time.RFC3339Nano)},
		{"a month old (a gate offline for weeks)", now.Add(-30 * 24 * time.Hour).Format(time.RFC3339Nano)},
	}
	for _, g := range good {
		e := servertest.GateEvent(gate, "denied")
		e["occurred_at"], e["replay_key"] = g.at, replayKey(1)
		h.Must(http.StatusOK, "POST", "/gate/v1/events", tok, map[string]any{"events": []any{e}})
	}
	if n := countEvents(t, h.DB, gate); n != len(good) {
		t.Fatalf("good events stored: %d, want %d", n, len(good))
	}
}

// replayKey is a replay key of the agent's form: a token type byte, then 24 bytes.
func replayKey(typ byte) []byte {
	k := make([]byte, 25)
	k[0] = typ
	return k
}

// Rows stored before the checks (an empty replay key) do not break the anomalies view,
// and no stored text reaches the CSV export as a formula.
func TestEntryLogViewsSurviveOldRows(t *testing.T) {
	h := servertest.New(t)
	f := h.Community()
	gate, _ := h.EnrolledGate(f)
	for _, r := range []struct {
		reason string
		key    []byte
	}{{"ok", []byte{}}, {`=HYPERLINK("http://evil.example/","x")`, nil}, {"+cmd", nil}, {"-1+2", nil}, {"@SUM(A1)", nil}, {"\tx", nil}} {
		dbtest.Insert(t, h.DB.SQL(), dbtest.EntryEvents, dbtest.Values{"community_id": f.ID, "id": uuid.New(), "occurred_at": dbtest.Now(),
			"gate_id": gate, "method": "qr", "result": "granted", "reason": r.reason, "replay_key": r.key})
	}
	h.Must(http.StatusOK, "GET", "/admin/v1/communities/"+f.ID+"/anomalies", f.Guard, nil)
	resp := apitest.Do(t, "GET", h.Base+"/admin/v1/communities/"+f.ID+"/events.csv", f.Guard, nil)
	if resp.Status != http.StatusOK {
		t.Fatalf("export: %d", resp.Status)
	}
	rows, err := csv.NewReader(bytes.NewReader(resp.Body)).ReadAll()
	if err != nil || len(rows) != 7 {
		t.Fatalf("export rows %d: %v", len(rows), err)
	}
	for _, row := range rows[1:] {
		for _, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Fatalf("cell %q starts a formula", cell)
			}
		}
		if row[8] != "ok" && !strings.HasPrefix(row[8], "'") {
			t.Fatalf("reason %q not escaped", row[8])
		}
	}
}

// A face event's time moves the resident's retention clock, never past the server's
// own time: a gate clock ahead cannot postpone the purge of templates.
func TestFaceEventsDoNotPostponeRetention(t *testing.T) {
	h := servertest.New(t)
	f := h.Community()
	gate, tok := h.EnrolledGate(f)
	c, r := uuid.MustParse(f.ID), uuid.MustParse(f.Resident)
	h.Must(http.StatusOK, "PUT", "/admin/v1/communities/"+f.ID+"/face-operator", f.Admin,
		map[string]any{"operator_name": "Sunshine Property", "operator_contact": "privacy@example.com"})
	n, _ := consent.Current("en")
	ctx := context.Background()
	err := h.DB.InTx(ctx, "resident:"+f.Resident, func(tx *store.Tx) error {
		_, err := tx.GiveConsent(ctx, store.GiveConsent{Community: c, Resident: r, GivenBy: r, NoticeVersion: n.Version,
			NoticeLang: n.Lang, NoticeHash: n.Hash[:], Scope: consent.ScopeCommunity, Channel: "h5"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	faceEvent := func(at time.Time) map[string]any {
		e := servertest.GateEvent(gate, "granted")
		delete(e, "credential_id")
		e["method"], e["resident_id"], e["score"], e["occurred_at"] = "face", f.Resident, 0.93, at.Format(time.RFC3339Nano)
		return e
	}
	h.Must(http.StatusUnprocessableEntity, "POST", "/gate/v1/events", tok, map[string]any{"events": []any{faceEvent(time.Date(2199, 1, 1, 0, 0, 0, 0, time.UTC))}})
	h.Must(http.StatusOK, "POST", "/gate/v1/events", tok, map[string]any{"events": []any{faceEvent(time.Now().Add(90 * time.Minute))}})
	var last time.Time
	dbtest.Get(t, h.DB.SQL(), &last, dbtest.Consents, "last_face_entry_at", dbtest.Eq("resident_id", r), dbtest.Null("withdrawn_at"))
	if last.After(time.Now()) {
		t.Fatalf("last face entry %v is in the future", last)
	}
}

// Uploads are rate limited per gate: past the limit the server answers 429 with
// Retry-After, and another gate is not affected.
func TestUploadsAreRateLimitedPerGate(t *testing.T) {
	h := servertest.New(t)
	f := h.Community()
	gate, tok := h.EnrolledGate(f)
	otherGate, otherTok := h.EnrolledGate(f)
	limited := false
	for i := 0; i < 500 && !limited; i++ {
		resp := apitest.Do(t, "POST", h.Base+"/gate/v1/events", tok, map[string]any{"events": []any{servertest.GateEvent(gate, "denied")}})
		switch resp.Status {
		case http.StatusOK:
		case http.StatusTooManyRequests:
			if resp.Header.Get("Retry-After") == "" {
				t.Fatalf("429 without Retry-After: %s", resp.Body)
			}
			limited = true
		default:
			t.Fatalf("upload %d: %d %s", i, resp.Status, resp.Body)
		}
	}
	if !limited {
		t.Fatal("500 uploads in a row were never limited")
	}
	h.Must(http.StatusOK, "POST", "/gate/v1/events", otherTok, map[string]any{"events": []any{servertest.GateEvent(otherGate, "denied")}})
}

// A gate offline while a resident deleted their account uploads their face entry later:
// it is stored, and not linked to them (issue 13 item 5: erasure erases).
func TestLateFaceEventOfADeletedResidentIsUnlinked(t *testing.T) {
	h := servertest.New(t)
	f := h.Community()
	gate, tok := h.EnrolledGate(f)
	c, r := uuid.MustParse(f.ID), uuid.MustParse(f.Resident)
	ctx := context.Background()
	if err := h.DB.InTx(ctx, "resident:"+f.Resident, func(tx *store.Tx) error {
		_, err := tx.DeleteResident(ctx, c, r)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	e := servertest.GateEvent(gate, "granted")
	delete(e, "credential_id")
	e["method"], e["resident_id"], e["score"] = "face", f.Resident, 0.93
	h.Must(http.StatusOK, "POST", "/gate/v1/events", tok, map[string]any{"events": []any{e}})
	var linked *string
	dbtest.Get(t, h.DB.SQL(), &linked, dbtest.EntryEvents, "resident_id", dbtest.Eq("community_id", c), dbtest.Eq("id", e["id"])) // fails if the late event was not stored
	if linked != nil {
		t.Fatalf("the late face event names the deleted resident %s", *linked)
	}
}
