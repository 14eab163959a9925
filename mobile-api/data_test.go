package main

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/credential"
	"gatepass/internal/dbtest"
)

func TestVisitorPasses(t *testing.T) {
	h := newHarness(t, testLimits)
	f := h.community()
	host, other := h.signUp(f), h.signUp(f)
	now := time.Now()
	create := func(body map[string]any) (string, string) {
		out := h.Must(201, "POST", "/api/v1/visitors", host.token, body)
		link := out["link"].(string)
		if !strings.HasPrefix(link, h.base+"/v/gpv_") {
			t.Fatalf("link %q", link)
		}
		return out["visitor_pass"].(map[string]any)["id"].(string), strings.TrimPrefix(link, h.base+"/v/")
	}
	id, token := create(map[string]any{"label": "plumber", "max_entries": 2, "zones": []int{0, 3},
		"valid_until": now.Add(2 * time.Hour).Format(time.RFC3339)})
	info := h.Must(200, "GET", "/api/v1/visit/"+token, "", nil)
	if info["state"] != "active" || info["entries_left"] != 2.0 || info["label"] != "plumber" || len(info) != 5 {
		t.Fatalf("visit info %v", info)
	}
	claims := h.verifyPass(f.id, h.Must(200, "GET", "/api/v1/visit/"+token+"/pass", "", nil))
	var cred string
	dbtest.Get(t, h.sql, &cred, dbtest.Credentials, "id", dbtest.Eq("visitor_pass_id", id))
	if claims.Subject != credential.SubjectVisitor || claims.CredentialID.String() != cred || claims.Zones != 0b1001 {
		t.Fatalf("visitor claims %+v", claims)
	}
	// The visitor's page is the app, with the token kept out of referrers and caches.
	status, hdr, _ := h.raw("GET", "/v/"+token, "", nil)
	if status != 200 || hdr.Get("Cache-Control") != "no-store" || hdr.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("visitor page %d %v", status, hdr)
	}

	// Near its end, a code never outlives the pass.
	_, ending := create(map[string]any{"label": "courier", "max_entries": 1, "valid_until": now.Add(40 * time.Second).Format(time.RFC3339)})
	end := h.Must(200, "GET", "/api/v1/visit/"+ending+"/pass", "", nil)
	exp, _ := time.Parse(time.RFC3339, end["expires_at"].(string))
	if exp.After(now.Add(41 * time.Second)) {
		t.Fatalf("code of a pass ending at %v expires at %v", now.Add(40*time.Second), exp)
	}

	// Not yet valid, used up, expired, revoked: no code, and the state says why.
	_, later := create(map[string]any{"label": "tomorrow", "max_entries": 1,
		"valid_from": now.Add(24 * time.Hour).Format(time.RFC3339), "valid_until": now.Add(30 * time.Hour).Format(time.RFC3339)})
	usedID, used := create(map[string]any{"label": "once", "max_entries": 1, "valid_until": now.Add(time.Hour).Format(time.RFC3339)})
	dbtest.Set(t, h.sql, dbtest.VisitorPasses, dbtest.Values{"entries_used": 1}, dbtest.Eq("id", usedID))
	oldID, old := create(map[string]any{"label": "yesterday", "max_entries": 1, "valid_until": now.Add(time.Hour).Format(time.RFC3339)})
	dbtest.Set(t, h.sql, dbtest.VisitorPasses, dbtest.Values{"valid_from": dbtest.Ago(48 * time.Hour), "valid_until": dbtest.Ago(24 * time.Hour)}, dbtest.Eq("id", oldID))
	before := h.snapshot()
	for tok, state := range map[string]string{later: "not_yet_valid", used: "used_up", old: "expired"} {
		if got := h.Must(200, "GET", "/api/v1/visit/"+tok, "", nil)["state"]; got != state {
			t.Fatalf("state %v, want %s", got, state)
		}
		h.MustFail(403, "visitor_pass_"+state, "GET", "/api/v1/visit/"+tok+"/pass", "", nil)
		h.MustFail(403, "visitor_pass_"+state, "GET", "/api/v1/visit/"+tok+"/pass.png", "", nil)
	}
	for _, bad := range []string{"gpv_nope", "gpi_" + strings.Repeat("A", 64), "gpv_" + strings.Repeat("A", 64)} {
		h.MustFail(404, "visitor_link_unknown", "GET", "/api/v1/visit/"+bad+"/pass", "", nil)
	}
	// Another resident cannot revoke it; the host can, once.
	h.MustFail(404, "not_found", "DELETE", "/api/v1/visitors/"+id, other.token, nil)
	h.unchanged(before, "refused visitor codes")
	h.Must(200, "DELETE", "/api/v1/visitors/"+id, host.token, nil)
	h.MustFail(409, "already_revoked", "DELETE", "/api/v1/visitors/"+id, host.token, nil)
	h.MustFail(403, "visitor_pass_revoked", "GET", "/api/v1/visit/"+token+"/pass", "", nil)
	if revoked := dbtest.Count(t, h.sql, dbtest.ChangeLog, dbtest.Eq("kind", "revocation"), dbtest.Eq("entity_id", cred)); revoked != 1 {
		t.Fatalf("gates told of the revocation: %d", revoked)
	}
	list := h.Must(200, "GET", "/api/v1/visitors", host.token, nil)["visitor_passes"].([]any)
	if len(list) != 5 {
		t.Fatalf("host lists %d passes", len(list))
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	h := newHarness(t, testLimits)
	f := h.community()
	m := h.signUp(f)
	h.stepUp(m, m.key)
	until := time.Now().Add(time.Hour).Format(time.RFC3339)
	cases := []struct {
		name, method, path, body string
		status                   int
	}{
		{"redeem not JSON", "POST", "/api/v1/invites/redeem/begin", `{`, 400},
		{"redeem array", "POST", "/api/v1/invites/redeem/begin", `[]`, 400},
		{"redeem wrong type", "POST", "/api/v1/invites/redeem/begin", `{"invite_code": 5}`, 400},
		{"redeem unknown field", "POST", "/api/v1/invites/redeem/begin", `{"invite_code": "x", "admin": true}`, 400},
		{"redeem trailing data", "POST", "/api/v1/invites/redeem/begin", `{"invite_code": "x"} {}`, 400},
		{"redeem empty", "POST", "/api/v1/invites/redeem/begin", ``, 400},
		{"finish without credential", "POST", "/api/v1/invites/redeem/finish", `{"ceremony": "x"}`, 400},
		{"finish credential not an object", "POST", "/api/v1/signin/finish", `{"ceremony": "x", "credential": "abc"}`, 400},
		{"finish bad session kind", "POST", "/api/v1/signin/finish", `{"ceremony": "x", "credential": {}, "session": "jwt"}`, 422},
		{"finish unknown ceremony", "POST", "/api/v1/signin/finish", `{"ceremony": "x", "credential": {"id": "x"}}`, 422},
		{"visitor without label", "POST", "/api/v1/visitors", `{"max_entries": 1, "valid_until": "` + until + `"}`, 422},
		{"visitor zero entries", "POST", "/api/v1/visitors", `{"label": "x", "max_entries": 0, "valid_until": "` + until + `"}`, 422},
		{"visitor too many entries", "POST", "/api/v1/visitors", `{"label": "x", "max_entries": 101, "valid_until": "` + until + `"}`, 422},
		{"visitor 8 days", "POST", "/api/v1/visitors", `{"label": "x", "max_entries": 1, "valid_until": "` + time.Now().Add(8*24*time.Hour).Format(time.RFC3339) + `"}`, 422},
		{"visitor in the past", "POST", "/api/v1/visitors", `{"label": "x", "max_entries": 1, "valid_until": "2020-01-01T00:00:00Z"}`, 422},
		{"visitor bad time", "POST", "/api/v1/visitors", `{"label": "x", "max_entries": 1, "valid_until": "tomorrow"}`, 400},
		{"visitor zone outside host's", "POST", "/api/v1/visitors", `{"label": "x", "max_entries": 1, "zones": [5], "valid_until": "` + until + `"}`, 422},
		{"visitor zone 64", "POST", "/api/v1/visitors", `{"label": "x", "max_entries": 1, "zones": [64], "valid_until": "` + until + `"}`, 422},
		{"visitor control chars", "POST", "/api/v1/visitors", `{"label": "a\u0007b", "max_entries": 1, "valid_until": "` + until + `"}`, 422},
		{"device no key", "POST", "/api/v1/devices", `{}`, 422},
		{"device not base64", "POST", "/api/v1/devices", `{"public_key": "%%%"}`, 422},
		{"device not a point", "POST", "/api/v1/devices", `{"public_key": "` + strings.Repeat("A", 44) + `"}`, 422},
		{"device wrong size", "POST", "/api/v1/devices", `{"public_key": "AAAA"}`, 422},
		{"device label too long", "POST", "/api/v1/devices", `{"public_key": "AAAA", "label": "` + strings.Repeat("x", 101) + `"}`, 422},
		{"passkey bad id", "DELETE", "/api/v1/passkeys/not-a-uuid", ``, 404},
		{"entries bad limit", "GET", "/api/v1/entries?limit=0", ``, 422},
		{"entries bad cursor", "GET", "/api/v1/entries?cursor=" + url.QueryEscape("{}"), ``, 422},
		{"wrong content type", "POST", "/api/v1/visitors", ``, 400},
	}
	before := h.snapshot()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h.t = t
			var body any
			if c.body != "" {
				body = c.body
			}
			status, out := h.Do(c.method, c.path, m.token, body)
			if status != c.status {
				t.Fatalf("%s %s %s = %d %v, want %d", c.method, c.path, c.body, status, out, c.status)
			}
		})
	}
	h.t = t
	h.unchanged(before, "bad input")
}

// addEntry records a gate's entry event for a credential, as the gate API would.
func (h *harness) addEntry(c uuid.UUID, gate uuid.UUID, cred uuid.UUID, at time.Time) {
	h.t.Helper()
	h.addDecision(c, gate, cred, at, "granted", "ok")
}

// addDecision records a gate's decision on a resident's QR code, as the gate API does.
func (h *harness) addDecision(c, gate, cred uuid.UUID, at time.Time, result, reason string) {
	h.t.Helper()
	dbtest.Insert(h.t, h.sql, dbtest.EntryEvents, dbtest.Values{"community_id": c, "id": uuid.New(), "occurred_at": at, "gate_id": gate, "credential_id": cred,
		"subject": "resident", "method": "qr", "result": result, "reason": reason, "replay_key": []byte{1}})
}

// addGate adds a gate to community c, never enrolled.
func (h *harness) addGate(c, gate uuid.UUID, name string) {
	h.t.Helper()
	dbtest.Insert(h.t, h.sql, dbtest.Gates, dbtest.Values{"community_id": c, "id": gate, "name": name, "zone": 0, "direction": "in"})
}

func TestEntriesExportAndDelete(t *testing.T) {
	h := newHarness(t, testLimits)
	f := h.community()
	a, b := h.signUp(f), h.signUp(f)
	ca := h.verifyPass(f.id, h.Must(200, "GET", "/api/v1/pass", a.token, nil)).CredentialID
	cb := h.verifyPass(f.id, h.Must(200, "GET", "/api/v1/pass", b.token, nil)).CredentialID
	gate := uuid.New()
	h.addGate(f.id, gate, "North gate")
	now := time.Now()
	for i := 0; i < 3; i++ {
		h.addEntry(f.id, gate, ca, now.Add(-time.Duration(i)*time.Minute))
	}
	h.addEntry(f.id, gate, cb, now)

	// Own entries only, newest first, page by page.
	page := h.Must(200, "GET", "/api/v1/entries?limit=2", a.token, nil)
	entries := page["entries"].([]any)
	if len(entries) != 2 || page["next_cursor"] == nil || entries[0].(map[string]any)["gate_name"] != "North gate" {
		t.Fatalf("first page %v", page)
	}
	rest := h.Must(200, "GET", "/api/v1/entries?limit=2&cursor="+url.QueryEscape(page["next_cursor"].(string)), a.token, nil)
	if n := len(rest["entries"].([]any)); n != 1 || rest["next_cursor"] != nil {
		t.Fatalf("second page %v", rest)
	}
	for _, e := range append(entries, rest["entries"].([]any)...) {
		if e.(map[string]any)["credential_id"] != ca.String() {
			t.Fatalf("a sees an entry of %v", e)
		}
	}

	// Export: everything about a, nothing of b, no secrets.
	status, hdr, raw := h.raw("GET", "/api/v1/me/export", a.token, nil)
	text := string(raw)
	if status != 200 || !strings.Contains(hdr.Get("Content-Disposition"), "attachment") || hdr.Get("Cache-Control") != "no-store" {
		t.Fatalf("export %d %v", status, hdr)
	}
	export := h.Must(200, "GET", "/api/v1/me/export", a.token, nil)
	for _, key := range []string{"resident", "residencies", "passkeys", "sessions", "credentials", "visitor_passes", "consents", "entries"} {
		if _, ok := export[key]; !ok {
			t.Fatalf("export without %s", key)
		}
	}
	if len(export["entries"].([]any)) != 3 || strings.Contains(text, cb.String()) || strings.Contains(text, b.id.String()) ||
		strings.Contains(text, "token_hash") || strings.Contains(text, a.token) || strings.Contains(text, "public_key\":\"p") {
		t.Fatalf("export holds the wrong things: %s", text)
	}

	// Delete: needs a fresh step-up, then ends everything and anonymises the entries.
	dbtest.Age(t, h.sql, dbtest.Sessions, "verified_at", 10*time.Minute)
	h.MustFail(403, "step_up_required", "DELETE", "/api/v1/me", a.token, nil)
	h.stepUp(a, a.key)
	other := h.signIn(a)
	out := h.Must(200, "DELETE", "/api/v1/me", a.token, nil)
	if out["entries_anonymised"] != 3.0 || out["sessions_ended"] != 2.0 || out["passkeys_deleted"] != 1.0 || out["credentials_revoked"] != 1.0 {
		t.Fatalf("delete = %v", out)
	}
	h.MustFail(401, "unauthorized", "GET", "/api/v1/me", a.token, nil)
	h.MustFail(401, "unauthorized", "GET", "/api/v1/me", other, nil)
	var row struct {
		Name   string
		Phone  *string
		Status string
	}
	resident := dbtest.Eq("id", a.id)
	dbtest.Get(t, h.sql, &row.Name, dbtest.Residents, "name", resident)
	dbtest.Get(t, h.sql, &row.Phone, dbtest.Residents, "phone", resident)
	dbtest.Get(t, h.sql, &row.Status, dbtest.Residents, "status", resident)
	if row.Name != "deleted" || row.Phone != nil || row.Status != "deleted" {
		t.Fatalf("resident after delete: %+v", row)
	}
	eq := dbtest.Eq
	linked := dbtest.Count(t, h.sql, dbtest.EntryEvents, eq("credential_id", ca))
	kept := dbtest.Count(t, h.sql, dbtest.EntryEvents, dbtest.Null("credential_id"), eq("gate_id", gate))
	audited := dbtest.Count(t, h.sql, dbtest.AuditLog, eq("action", "resident.delete"), eq("target", "resident:"+a.id.String()))
	revocations := dbtest.Count(t, h.sql, dbtest.ChangeLog, eq("kind", "revocation"), eq("entity_id", ca))
	exports := dbtest.Count(t, h.sql, dbtest.AuditLog, eq("action", "resident.export"), eq("target", "resident:"+a.id.String()))
	if linked != 0 || kept != 3 || audited != 1 || revocations != 1 || exports != 2 {
		t.Fatalf("after delete: linked %d kept %d audited %d revocations %d exports %d", linked, kept, audited, revocations, exports)
	}
	// b is untouched.
	if n := len(h.Must(200, "GET", "/api/v1/entries", b.token, nil)["entries"].([]any)); n != 1 {
		t.Fatalf("b's entries after a's deletion: %d", n)
	}
}
