package admin_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/apitest"
	"gatepass/server/internal/servertest"
)

// accessGroup makes an access group of f (zone 0, always) through the API.
func (h *harness) accessGroup(f servertest.Fixture) string {
	h.T.Helper()
	return h.Must(http.StatusCreated, "POST", "/admin/v1/communities/"+f.ID+"/access-groups", f.Admin,
		map[string]any{"name": apitest.Unique("Group"), "zones": []int{0}})["id"].(string)
}

// passholder makes a cleaner of f bound to group through the API.
func (h *harness) passholder(f servertest.Fixture, group string) string {
	h.T.Helper()
	return h.Must(http.StatusCreated, "POST", "/admin/v1/communities/"+f.ID+"/passholders", f.Admin,
		map[string]any{"name": apitest.Unique("Cleaner"), "kind": "cleaner", "group_id": group})["id"].(string)
}

// passholderCard prints a card for passholder through the store and returns its id.
func (h *harness) passholderCard(f servertest.Fixture, passholder string) string {
	h.T.Helper()
	card, _, err := h.DB.IssuePassholderCard(context.Background(), "test", uuid.MustParse(f.ID), uuid.MustParse(passholder), 24*time.Hour, h.Sealer)
	if err != nil {
		h.T.Fatal(err)
	}
	return card.ID.String()
}

// Issue 16, items 1 and 6, at the admin API: a resident opens the perimeter and their
// building's zones without staff doing anything; staff widen and narrow per building,
// unit and resident, and the API says what a resident opens; bad input is refused with
// the field named (overlapping windows, a window ending before it starts, unknown zones,
// a time in a daylight saving gap); every change is audited.
func TestAccessGroupsAPI(t *testing.T) {
	h := newHarness(t)
	f := h.Community()
	base := "/admin/v1/communities/" + f.ID
	for z, name := range map[int]string{1: "Building 1 lobby", 3: "Building 3 lobby", 4: "Garage"} {
		h.Must(http.StatusOK, "PUT", base+"/zones/"+string(rune('0'+z)), f.Admin, map[string]any{"name": name})
	}
	b3 := h.Must(http.StatusCreated, "POST", base+"/buildings", f.Admin, map[string]any{"name": "3号楼", "zones": []int{3}})
	if zs := b3["zones"].([]any); len(zs) != 1 || zs[0] != 3.0 {
		t.Fatalf("building zones %v", b3["zones"])
	}
	unit := h.Must(http.StatusCreated, "POST", base+"/units", f.Admin, map[string]any{"building_id": b3["id"], "label": "3-1-502"})["id"].(string)
	res := h.Must(http.StatusCreated, "POST", base+"/residents", f.Admin, map[string]any{"name": "张三", "unit_id": unit, "role": "owner"})["id"].(string)
	opens := func() []any {
		t.Helper()
		return h.Must(http.StatusOK, "GET", base+"/residents/"+res+"/access", f.Auditor, nil)["zones"].([]any)
	}
	if z := opens(); len(z) != 2 || z[0] != 0.0 || z[1] != 3.0 {
		t.Fatalf("a new resident of building 3 opens %v, want [0 3]", z)
	}
	// Widen the unit with the garage group; narrow the resident to the garage alone.
	garage := h.Must(http.StatusCreated, "POST", base+"/access-groups", f.Admin, map[string]any{"name": "Garage", "zones": []int{4}})["id"].(string)
	h.Must(http.StatusOK, "PUT", base+"/access-policies/unit/"+unit, f.Admin, map[string]any{"group_ids": []string{garage}, "inherit": true})
	if z := opens(); len(z) != 3 {
		t.Fatalf("widened: %v", z)
	}
	h.Must(http.StatusOK, "PUT", base+"/access-policies/resident/"+res, f.Admin, map[string]any{"group_ids": []string{garage}, "inherit": false})
	if z := opens(); len(z) != 1 || z[0] != 4.0 {
		t.Fatalf("narrowed: %v", z)
	}
	h.Must(http.StatusOK, "DELETE", base+"/access-policies/resident/"+res, f.Admin, nil)
	if z := opens(); len(z) != 3 {
		t.Fatalf("policy removed: %v", z)
	}
	// A guard may read but not change groups; an auditor reads.
	h.Must(http.StatusForbidden, "POST", base+"/access-groups", f.Guard, map[string]any{"name": "x", "zones": []int{0}})
	h.Must(http.StatusOK, "GET", base+"/access-groups/"+garage, f.Guard, nil)

	bad := []struct {
		name, field string
		body        map[string]any
	}{
		{"overlapping windows", "schedule.tue", map[string]any{"name": "x", "zones": []int{0},
			"schedule": map[string]any{"tue": []any{map[string]string{"start": "07:00", "end": "12:00"}, map[string]string{"start": "11:00", "end": "18:00"}}}}},
		{"end before start", "schedule.mon[0]", map[string]any{"name": "x", "zones": []int{0},
			"schedule": map[string]any{"mon": []any{map[string]string{"start": "18:00", "end": "07:00"}}}}},
		{"not a time", "schedule.mon[0]", map[string]any{"name": "x", "zones": []int{0},
			"schedule": map[string]any{"mon": []any{map[string]string{"start": "7am", "end": "18:00"}}}}},
		{"not a day", "schedule.monday", map[string]any{"name": "x", "zones": []int{0}, "schedule": map[string]any{"monday": []any{}}}},
		{"unknown zone", "zones", map[string]any{"name": "x", "zones": []int{9}}},
		{"zone out of range", "zones[0]", map[string]any{"name": "x", "zones": []int{64}}},
		{"no zones", "zones", map[string]any{"name": "x", "zones": []int{}}},
		{"duplicate name", "name", map[string]any{"name": "Garage", "zones": []int{0}}},
		{"bad holiday", "holidays[0].date", map[string]any{"name": "x", "zones": []int{0}, "holidays": []any{map[string]any{"date": "2026-13-01"}}}},
	}
	for _, c := range bad {
		before := h.tableCounts()
		out := apitest.Do(t, "POST", h.Base+base+"/access-groups", f.Admin, c.body)
		if out.Status != http.StatusUnprocessableEntity || errorField(t, out) != c.field {
			t.Errorf("%s: %d %s, want 422 on %s", c.name, out.Status, out.Body, c.field)
		}
		if after := h.tableCounts(); len(after) != len(before) {
			t.Errorf("%s changed the database", c.name)
		}
	}
	// In New York, 02:30 does not exist on the Sunday the clocks spring forward.
	gap := map[string]any{"name": "Night", "zones": []int{0}, "schedule": map[string]any{"sun": []any{map[string]string{"start": "02:30", "end": "05:00"}}}}
	h.Must(http.StatusCreated, "POST", base+"/access-groups", f.Admin, gap)
	out := apitest.Do(t, "PUT", h.Base+base+"/access-settings", f.Admin, map[string]any{"time_zone": "America/New_York"})
	if out.Status != http.StatusUnprocessableEntity || errorField(t, out) != "time_zone" {
		t.Fatalf("a time zone in which a group's times do not exist: %d %s", out.Status, out.Body)
	}
	h.Must(http.StatusUnprocessableEntity, "PUT", base+"/access-settings", f.Admin, map[string]any{"time_zone": "Mars/Base"})
	h.Must(http.StatusUnprocessableEntity, "PUT", base+"/access-settings", f.Admin, map[string]any{"offline_policy": "maybe"})
	s := h.Must(http.StatusOK, "GET", base+"/access-settings", f.Guard, nil)
	if s["time_zone"] != "Asia/Shanghai" || s["offline_limit_seconds"] != 129600.0 || s["offline_policy"] != "accept_all_verifiable" {
		t.Fatalf("defaults: %v", s)
	}
	// Every change above is in the audit log.
	seen := map[string]bool{}
	for _, e := range h.Must(http.StatusOK, "GET", "/admin/v1/audit?limit=500", f.Auditor, nil)["entries"].([]any) {
		seen[e.(map[string]any)["action"].(string)] = true
	}
	for _, a := range []string{"building.create", "access_group.create", "access_policy.set", "access_policy.delete"} {
		if !seen[a] {
			t.Errorf("no audit entry %s", a)
		}
	}
}

// Issue 16, item 3 at the admin API: a guard starts a lockdown and lifts it in one
// action; an auditor cannot; both are audited; lifting twice is a conflict.
func TestLockdownAPI(t *testing.T) {
	h := newHarness(t)
	f := h.Community()
	base := "/admin/v1/communities/" + f.ID
	h.Must(http.StatusForbidden, "POST", base+"/lockdowns", f.Auditor, map[string]any{"scope": "community", "reason": "x"})
	h.Must(http.StatusUnprocessableEntity, "POST", base+"/lockdowns", f.Guard, map[string]any{"scope": "zone", "zone": 9, "reason": "x"})
	h.Must(http.StatusUnprocessableEntity, "POST", base+"/lockdowns", f.Guard, map[string]any{"scope": "gate", "gate_id": uuid.NewString(), "reason": "x"})
	h.Must(http.StatusUnprocessableEntity, "POST", base+"/lockdowns", f.Guard, map[string]any{"scope": "community", "reason": "x", "duration_minutes": 0})
	l := h.Must(http.StatusCreated, "POST", base+"/lockdowns", f.Guard, map[string]any{"scope": "gate", "gate_id": f.Gate, "reason": "intruder", "duration_minutes": 30})
	if l["ends_at"] == nil || l["started_by"] != f.Staff["guard"].ID {
		t.Fatalf("lockdown %v", l)
	}
	if list := h.Must(http.StatusOK, "GET", base+"/lockdowns", f.Auditor, nil)["lockdowns"].([]any); len(list) != 1 {
		t.Fatalf("in force: %v", list)
	}
	id := l["id"].(string)
	lifted := h.Must(http.StatusOK, "POST", base+"/lockdowns/"+id+"/lift", f.Guard, nil)
	if lifted["ended_at"] == nil || lifted["lifted_by"] != f.Staff["guard"].ID {
		t.Fatalf("lifted %v", lifted)
	}
	h.Must(http.StatusConflict, "POST", base+"/lockdowns/"+id+"/lift", f.Admin, nil)
	if list := h.Must(http.StatusOK, "GET", base+"/lockdowns", f.Auditor, nil)["lockdowns"].([]any); len(list) != 0 {
		t.Fatalf("in force after the lift: %v", list)
	}
	if list := h.Must(http.StatusOK, "GET", base+"/lockdowns?all=true", f.Auditor, nil)["lockdowns"].([]any); len(list) != 1 {
		t.Fatalf("all: %v", list)
	}
	seen := map[string]bool{}
	for _, e := range h.Must(http.StatusOK, "GET", "/admin/v1/audit?limit=500", f.Auditor, nil)["entries"].([]any) {
		seen[e.(map[string]any)["action"].(string)] = true
	}
	if !seen["lockdown.start"] || !seen["lockdown.lift"] {
		t.Fatalf("audit: %v", seen)
	}
}

// errorField is the field an error answer names.
func errorField(t *testing.T, r apitest.Response) string {
	t.Helper()
	e, _ := r.JSON(t)["error"].(map[string]any)
	f, _ := e["field"].(string)
	return f
}
