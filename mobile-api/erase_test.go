package main

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/consent"
	"gatepass/internal/dbtest"
	"gatepass/internal/store"
)

// keptID names the columns where an erased resident's id may stay, and why
// (docs/mobile-app.md, "What deletion keeps"): the value is a condition on the row; the
// id may stay only in rows that meet it. Nothing else of theirs (name, phone, labels)
// may stay anywhere.
var keptID = map[string]string{
	// The tombstone row: the key the kept records below point to (name 'deleted', no
	// phone, no residency, no dates but the deletion's).
	"residents.id": "status = 'deleted'",
	// Consent records: kept 3 years after they end (the law; trigger consents_keep), with
	// the pseudonymous id so that the resident, who has it in their export, can show
	// which records are theirs.
	"consents.resident_id":  "withdrawn_at IS NOT NULL",
	"consents.given_by":     "withdrawn_at IS NOT NULL",
	"consents.withdrawn_by": "withdrawn_at IS NOT NULL",
	// Each gate's purge of the face template: the proof that every gate deleted it.
	"face_purges.resident_id": "true",
	// What the gates must learn to delete the template, until they have synced it
	// (pruned with the change log).
	"change_log.data": "kind = 'face_purge'",
	// The append-only, hash-chained record of acts on people's access and data.
	"audit_log.actor":   "true",
	"audit_log.target":  "true",
	"audit_log.summary": "true",
}

// column is one column of a table, as information_schema names it.
type column struct {
	Table    string `db:"table_name"`
	Column   string `db:"column_name"`
	DataType string `db:"data_type"`
}

// personalColumns lists every column of every table that can hold text, JSON, a UUID or
// bytes, from information_schema: a table or column added later is scanned too.
func (h *harness) personalColumns() []column {
	h.t.Helper()
	var cols []column
	err := h.sql.Select(&cols, `SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c
		JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
		WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
		AND c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', 'uuid', 'bytea', 'ARRAY', 'USER-DEFINED')
		ORDER BY c.table_name, c.ordinal_position`)
	if err != nil {
		h.t.Fatal(err)
	}
	return cols
}

// trace is something of a resident's that their deletion must erase.
type trace struct {
	what string
	text string // looked for in every column as text (uuid, json, arrays: their text form; bytea: UTF-8)
	raw  []byte // or: looked for in bytea columns as bytes
	id   bool   // the resident's id: allowed where keptID says
}

// scanFor reports every column of every table that still holds one of traces, beyond
// what keptID allows.
func (h *harness) scanFor(traces []trace) []string {
	h.t.Helper()
	var found []string
	cols := h.personalColumns()
	for _, c := range cols {
		table, col := `"`+c.Table+`"`, `"`+c.Column+`"`
		for _, tr := range traces {
			var where string
			var arg any
			switch {
			case tr.raw != nil && c.DataType != "bytea":
				continue
			case tr.raw != nil:
				where, arg = `position($1::bytea in `+col+`) > 0`, tr.raw
			case c.DataType == "bytea":
				where, arg = `position(convert_to($1, 'UTF8') in `+col+`) > 0`, tr.text
			default:
				where, arg = `strpos(`+col+`::text, $1) > 0`, tr.text
			}
			if cond, ok := keptID[c.Table+"."+c.Column]; ok && tr.id {
				where += ` AND NOT (` + cond + `)`
			}
			var n int
			if err := h.sql.Get(&n, `SELECT count(*) FROM `+table+` WHERE `+where, arg); err != nil {
				h.t.Fatalf("scan %s.%s: %v", c.Table, c.Column, err)
			}
			if n > 0 {
				found = append(found, c.Table+"."+c.Column+" holds the "+tr.what)
			}
		}
	}
	return found
}

// TestDeletionErases is issue 13 item 5: after DELETE /api/v1/me nothing of the
// resident's stays but what the law requires and docs/mobile-app.md lists. A resident
// with everything the app lets them have — a residency, passkeys, sessions, a pending
// invite, a device, a card, visitor passes with labels, face consents, templates and an
// enrolment session, entries by code and by face — is deleted, then every text, JSON,
// UUID and bytes column of every table is scanned for their name, phone, labels and id.
func TestDeletionErases(t *testing.T) {
	h := newHarness(t, testLimits)
	f := h.community()
	h.offerFace(f)
	h.faceGates(f, 2)
	gates := h.gateIDs(f)
	ctx := context.Background()
	tag := strings.ToUpper(uuid.NewString()[:8])
	name, phone := "王奶奶的孙子 "+tag, "+86 139 "+tag
	passkeyName, deviceLabel, visitorLabel := "Xiao's phone "+tag, "Xiao's tablet "+tag, "Grandma Wang visiting "+tag
	id, code := h.inviteAs(store.NewResident{Community: f.id, Name: name, Phone: &phone, Unit: f.unit, Role: access.RoleTenant})
	m := h.redeem(f, id, code, passkeyName)
	other := h.signUp(f)

	// Codes, a device, a card, visitor passes.
	qr := h.verifyPass(f.id, h.Must(200, "GET", "/api/v1/pass", m.token, nil)).CredentialID
	h.stepUp(m, m.key)
	_, pub := phoneKey(t)
	device := h.Must(201, "POST", "/api/v1/devices", m.token, map[string]any{"public_key": pub, "label": deviceLabel})
	card, _, err := h.db.IssueCard(ctx, "test", f.id, m.id, 24*time.Hour, h.sealer)
	if err != nil {
		t.Fatal(err)
	}
	until := time.Now().Add(time.Hour).Format(time.RFC3339)
	visit := h.Must(201, "POST", "/api/v1/visitors", m.token, map[string]any{"label": visitorLabel, "max_entries": 2, "valid_until": until})
	token := strings.TrimPrefix(visit["link"].(string), h.base+"/v/")
	visitor := h.verifyPass(f.id, h.Must(200, "GET", "/api/v1/visit/"+token+"/pass", "", nil)).CredentialID

	// Face entry: a one-gate consent with an enrolment session, withdrawn; then a
	// community consent with templates sealed to every gate.
	h.consentTo(f, m, consent.ScopeOneGate, gates[0])
	h.Must(201, "POST", "/api/v1/face/enrolment", m.token, map[string]any{"gate_id": gates[0]})
	h.Must(200, "POST", "/api/v1/face/withdraw", m.token, nil)
	h.consentTo(f, m, consent.ScopeCommunity, uuid.Nil)
	h.Must(201, "POST", "/api/v1/face/templates", m.token, map[string]any{
		"templates": h.seal(f, m, h.Must(200, "GET", "/api/v1/face/gates", m.token, nil)["gates"].([]any))})

	// Entries by code, card, device, visitor and face; a re-invite from staff; a step-up
	// begun and not finished.
	now := time.Now()
	for _, cred := range []uuid.UUID{qr, card.ID, uuid.MustParse(device["device"].(map[string]any)["id"].(string))} {
		h.addEntry(f.id, gates[1], cred, now.Add(-time.Minute))
	}
	dbtest.Insert(t, h.sql, dbtest.EntryEvents, dbtest.Values{"community_id": f.id, "id": uuid.New(), "occurred_at": now, "gate_id": gates[1],
		"credential_id": visitor, "subject": "visitor", "method": "qr", "result": "granted", "reason": "ok"})
	dbtest.Insert(t, h.sql, dbtest.EntryEvents, dbtest.Values{"community_id": f.id, "id": uuid.New(), "occurred_at": now, "gate_id": gates[1],
		"subject": "resident", "method": "face", "result": "granted", "reason": "ok", "resident_id": m.id, "score": 0.93})
	if err := h.db.InTx(ctx, "test", func(tx *store.Tx) error { _, err := tx.ReissueInvite(ctx, f.id, m.id); return err }); err != nil {
		t.Fatal(err)
	}
	// Staff narrowed the resident's access (issue 16): a policy on them, and its change.
	if err := h.db.InTx(ctx, "test", func(tx *store.Tx) error {
		_, err := tx.SetAccessPolicy(ctx, access.AccessPolicy{Community: f.id, Level: access.LevelResident, Target: m.id, Inherit: true})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	h.Must(200, "POST", "/api/v1/stepup/begin", m.token, map[string]any{})

	handle := access.UserHandle(f.id, m.id)
	traces := []trace{
		{what: "name", text: name}, {what: "phone number", text: phone}, {what: "passkey name", text: passkeyName},
		{what: "device label", text: deviceLabel}, {what: "visitor pass label", text: visitorLabel},
		{what: "resident id", text: m.id.String(), id: true}, {what: "resident id (raw)", raw: m.id[:], id: true},
		{what: "user handle", text: base64.RawURLEncoding.EncodeToString(handle), id: true},
		{what: "user handle (base64)", text: base64.StdEncoding.EncodeToString(handle), id: true}, {what: "user handle (raw)", raw: handle, id: true},
	}
	// Before deletion the scan finds them all (it would find nothing if it looked wrongly).
	before := strings.Join(h.scanFor(traces), "; ")
	for _, tr := range traces[:5] {
		if !strings.Contains(before, tr.what) {
			t.Fatalf("the scan does not find the %s before deletion: %s", tr.what, before)
		}
	}

	h.stepUp(m, m.key)
	h.Must(200, "DELETE", "/api/v1/me", m.token, nil)
	if found := h.scanFor(traces); len(found) > 0 {
		t.Errorf("after deletion:\n  %s", strings.Join(found, "\n  "))
	}

	// The entries stay, the community's record of its gates, tied to nobody.
	var linked int
	if entries := dbtest.Count(t, h.sql, dbtest.EntryEvents, dbtest.Eq("community_id", f.id), dbtest.Eq("gate_id", gates[1])); entries != 5 {
		t.Fatalf("entries kept: %d", entries)
	}
	if err := h.sql.Get(&linked, `SELECT count(*) FROM entry_events e JOIN credentials c ON c.community_id = e.community_id AND c.id = e.credential_id
		WHERE e.community_id = $1 AND (c.resident_id IS NOT NULL OR c.visitor_pass_id IS NOT NULL)`, f.id); err != nil || linked != 0 {
		t.Fatalf("entries still linked to a person: %d %v", linked, err)
	}
	// Revocations still reach the gates: the credential rows stay, revoked, owned by nobody.
	var live int
	for _, id := range []uuid.UUID{qr, card.ID, visitor} {
		live += dbtest.Count(t, h.sql, dbtest.Credentials, dbtest.Eq("community_id", f.id), dbtest.Eq("id", id), dbtest.Null("revoked_at"))
	}
	if live != 0 {
		t.Fatalf("live credentials of the erased resident: %d", live)
	}
	// The other resident is untouched.
	h.Must(200, "GET", "/api/v1/me", other.token, nil)
	h.Must(200, "GET", "/api/v1/pass", other.token, nil)
}
