package admin_test

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"gatepass/internal/apitest"
	"gatepass/server/internal/servertest"
)

// The entry log says who came in: the resident's name and unit, resolved on the server,
// for guards as for admins, never the phone number; and it filters by person or unit,
// method and reason. The live stream and the CSV carry the same names.
func TestEntryLogNames(t *testing.T) {
	h := newHarness(t)
	f := h.Community()
	res := h.Must(201, "POST", "/admin/v1/communities/"+f.ID+"/residents", f.Admin,
		map[string]any{"name": "Chen Jing 陈静", "phone": "13912345678", "unit_id": f.Unit, "role": "owner"})
	resident := res["id"].(string)
	if !strings.HasPrefix(res["invite_url"].(string), servertest.ResidentAppURL+"/i/gpi_") || !strings.HasPrefix(res["invite_qr"].(string), "data:image/png;base64,") {
		t.Fatalf("the new resident's invite has no link or QR code: %v", res["invite_url"])
	}
	card := h.Card(f, resident)
	gate, token := h.EnrolledGate(f)
	ev := servertest.GateEvent(gate, "granted")
	ev["credential_id"] = card
	other := servertest.GateEvent(gate, "denied")
	other["reason"] = "expired"
	h.Must(http.StatusOK, "POST", "/gate/v1/events", token, map[string]any{"events": []any{ev, other}})
	unit := h.Must(200, "GET", "/admin/v1/communities/"+f.ID+"/residents/"+resident, f.Admin, nil)["unit_label"].(string)

	base := "/admin/v1/communities/" + f.ID + "/events"
	resp := apitest.Do(t, "GET", h.Base+base+"?who="+url.QueryEscape("陈静"), f.Guard, nil)
	page := resp.JSON(t)["events"].([]any)
	if len(page) != 1 {
		t.Fatalf("who=陈静: %d events", len(page))
	}
	e := page[0].(map[string]any)
	if e["resident_name"] != "Chen Jing 陈静" || e["unit_label"] != unit || e["gate_name"] == nil || e["id"] != ev["id"] {
		t.Fatalf("the guard's entry: %v", e)
	}
	if bytes.Contains(resp.Body, []byte("1391")) || bytes.Contains(resp.Body, []byte("5678")) {
		t.Fatalf("the entry log shows a phone number: %s", resp.Body)
	}
	for _, c := range []struct {
		query string
		want  int
	}{
		{"who=" + url.QueryEscape(unit), 1}, {"who=nobody-here", 0}, {"method=manual", 0}, {"method=qr", 2},
		{"result=denied&reason=expired", 1}, {"reason=ok", 1},
	} {
		if got := len(h.Must(200, "GET", base+"?"+c.query, f.Guard, nil)["events"].([]any)); got != c.want {
			t.Errorf("%s: %d events, want %d", c.query, got, c.want)
		}
	}
	h.MustFail(422, "invalid_field", "GET", base+"?method=teleport", f.Guard, nil)

	stream := apitest.Do(t, "GET", h.Base+base+"/stream?wait=0s&since=2000-01-01T00:00:00Z", f.Guard, nil)
	if stream.Status != 200 || !bytes.Contains(stream.Body, []byte("event: entry")) || !bytes.Contains(stream.Body, []byte("Chen Jing")) {
		t.Fatalf("stream: %d %s", stream.Status, stream.Body)
	}
	rows, err := csv.NewReader(bytes.NewReader(apitest.Do(t, "GET", h.Base+base+".csv?who="+url.QueryEscape("陈静"), f.Guard, nil).Body)).ReadAll()
	if err != nil || len(rows) != 2 || rows[1][13] != "Chen Jing 陈静" || rows[1][14] != unit {
		t.Fatalf("csv: %v %v", rows, err)
	}
}

// A manual release shows when the gate confirmed it; an admin's search reaches phone
// numbers, a guard's does not.
func TestReleaseConfirmationAndPhoneSearch(t *testing.T) {
	h := newHarness(t)
	f := h.Community()
	gate, token := h.EnrolledGate(f)
	cmd := h.Must(201, "POST", "/admin/v1/gates/"+gate+"/unlock", f.Guard, map[string]any{"reason": "parcel"})["command_id"].(string)
	path := "/admin/v1/gates/" + gate + "/commands/" + cmd
	if got := h.Must(200, "GET", path, f.Guard, nil); got["acked_at"] != nil || got["kind"] != "unlock" {
		t.Fatalf("before the gate answers: %v", got)
	}
	h.Must(200, "POST", "/gate/v1/commands/"+cmd+"/ack", token, map[string]any{"result": "executed"})
	if got := h.Must(200, "GET", path, f.Guard, nil); got["acked_at"] == nil || got["result"] != "executed" {
		t.Fatalf("after the gate confirmed: %v", got)
	}

	h.Must(201, "POST", "/admin/v1/communities/"+f.ID+"/residents", f.Admin,
		map[string]any{"name": "Phone Person", "phone": "13700001111", "unit_id": f.Unit, "role": "owner"})
	q := "/admin/v1/communities/" + f.ID + "/residents?q=0000111"
	if n := len(h.Must(200, "GET", q, f.Admin, nil)["residents"].([]any)); n != 1 {
		t.Fatalf("an admin's phone search found %d", n)
	}
	if n := len(h.Must(200, "GET", q, f.Guard, nil)["residents"].([]any)); n != 0 {
		t.Fatalf("a guard's phone search found %d", n)
	}
}
