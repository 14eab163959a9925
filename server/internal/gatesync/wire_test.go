package gatesync

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/gateapi"
)

// Every conversion between the domain and the wire, with every field of its input set:
// the output must have every field set too and equal the expected value, so that a field
// added on one side and not mapped fails here. Settings convert both ways and must come
// back unchanged.
func TestWireConversionsAreLossless(t *testing.T) {
	at := time.Date(2025, 3, 1, 8, 30, 0, 0, time.UTC)
	later := at.Add(time.Hour)
	id := func(n byte) uuid.UUID { return uuid.UUID{n, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15} }
	staff, resident, cred := id(7), id(8), id(9)
	score, dropped := float32(0.93), 17
	settings := access.GateSettings{SkewSeconds: access.Int(40), StaleAfterSeconds: access.Int(600), StalePolicy: access.StaleDeny,
		CardMinIntervalSeconds: access.Int(7), PassbackSeconds: access.Int(120), PulseMillis: access.Int(900), HeartbeatSeconds: access.Int(15)}
	wireSettings := gateapi.Settings{SkewSeconds: gateapi.Int(40), StaleAfterSeconds: gateapi.Int(600), StalePolicy: gateapi.StaleDeny,
		CardMinIntervalSeconds: gateapi.Int(7), PassbackSeconds: gateapi.Int(120), PulseMillis: gateapi.Int(900), HeartbeatSeconds: gateapi.Int(15)}
	gate := access.GateIdentity{ID: id(1), Community: id(2), Name: "North", Zone: 3, Direction: "in", Settings: settings}
	wireGate := gateapi.Gate{ID: id(1), Community: id(2), Name: "North", Zone: 3, Direction: "in", Settings: wireSettings}
	payload := json.RawMessage(`{"resident_id":"x"}`)
	week := access.WeeklySchedule{}
	week[time.Monday] = []access.Window{{Start: 420, End: 1080}}
	holidays := []access.Holiday{{Date: "2026-10-01", Name: "National Day", Windows: []access.Window{{Start: 540, End: 720}}}}
	zone := 2
	sync := access.GateSync{Cursor: 42, Full: true, More: true, ServerTime: at, Gate: gate,
		Keys:          []access.SyncKey{{KID: 5, Public: []byte{1, 2}, NotBefore: at, NotAfter: &later}},
		Zones:         []access.ZoneRule{{Zone: 2, AntiPassback: true}},
		Revocations:   []access.Revocation{{Credential: cred, ForgetAfter: later}},
		Commands:      []access.GateCommand{{ID: id(3), Kind: "face_enrol", Reason: "r", Payload: payload, CreatedBy: &staff, CreatedAt: at}},
		FaceTemplates: []access.GateFaceTemplate{{Template: id(4), Resident: resident, Model: "m", Sealed: []byte{9}}},
		FacePurges:    []access.FacePurge{{Purge: id(5), Resident: resident, Reason: "withdrawal"}},
		Holders:       []access.CredentialHolder{{Credential: cred, Holder: resident}},
		ForeignKIDs:   []uint32{12, 13},
		Access: &access.GateAccess{TimeZone: "Asia/Shanghai", OfflineLimitSeconds: 3600, OfflinePolicy: access.OfflineCardsAndDevices,
			Groups:    []access.GateGroup{{ID: id(10), Zones: 5, Schedule: &week, Holidays: holidays}},
			Lockdowns: []access.GateLockdown{{ID: id(11), Scope: access.LockZone, Zone: &zone, Gate: &staff, Reason: "drill", EndsAt: &later}}},
		Memberships: []access.HolderGroups{{Holder: resident, Groups: []uuid.UUID{id(10)}}},
	}
	wireSync := gateapi.Sync{Cursor: 42, Full: true, More: true, ServerTime: at, Gate: wireGate,
		Keys:          []gateapi.Key{{KID: 5, Public: []byte{1, 2}, NotBefore: at, NotAfter: &later}},
		Zones:         []gateapi.Zone{{Zone: 2, AntiPassback: true}},
		Revocations:   []gateapi.Revocation{{Credential: cred, ForgetAfter: later}},
		Commands:      []gateapi.Command{{ID: id(3), Kind: "face_enrol", Reason: "r", Payload: payload, CreatedBy: &staff, CreatedAt: at}},
		FaceTemplates: []gateapi.FaceTemplate{{Template: id(4), Resident: resident, Model: "m", Sealed: []byte{9}}},
		FacePurges:    []gateapi.FacePurge{{Purge: id(5), Resident: resident, Reason: "withdrawal"}},
		Holders:       []gateapi.Holder{{Credential: cred, Holder: resident}},
		ForeignKIDs:   []uint32{12, 13},
		Access: &gateapi.Access{TimeZone: "Asia/Shanghai", OfflineLimitSeconds: 3600, OfflinePolicy: access.OfflineCardsAndDevices,
			Groups:    []gateapi.AccessGroup{{ID: id(10), Zones: 5, Schedule: &week, Holidays: holidays}},
			Lockdowns: []gateapi.Lockdown{{ID: id(11), Scope: access.LockZone, Zone: &zone, Gate: &staff, Reason: "drill", EndsAt: &later}}},
		Memberships: []gateapi.Membership{{Holder: resident, Groups: []uuid.UUID{id(10)}}},
	}
	wireEvent := gateapi.Event{ID: id(6), OccurredAt: at, GateID: id(1), Credential: &cred, Subject: "resident", Method: "face",
		Result: "granted", Reason: "ok", Offline: true, Stale: true, Staff: &staff, ReplayKey: []byte{3}, Resident: &resident, Score: &score, Dropped: &dropped, OfflineLimit: true}
	event := access.GateEvent{ID: id(6), OccurredAt: at, Gate: id(1), Credential: &cred, Subject: "resident", Method: "face",
		Result: "granted", Reason: "ok", Offline: true, Stale: true, Staff: &staff, ReplayKey: []byte{3}, Resident: &resident, Score: &score, Dropped: &dropped, OfflineLimit: true}

	cases := []struct {
		name      string
		in        any
		got, want any
		back      any // the output converted back, where a way back exists
	}{
		{"settings", settings, gateapi.Settings(settings), wireSettings, access.GateSettings(wireSettings)},
		{"gate", gate, gateToWire(gate), wireGate, nil},
		{"sync", sync, syncToWire(sync), wireSync, nil},
		{"event", wireEvent, eventFromWire(wireEvent), event, nil},
	}
	for _, c := range cases {
		allSet(t, c.name+" input", reflect.ValueOf(c.in))
		allSet(t, c.name+" output", reflect.ValueOf(c.got))
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, c.got, c.want)
		}
		if c.back != nil && !reflect.DeepEqual(c.back, c.in) {
			t.Errorf("%s back:\n got %+v\nwant %+v", c.name, c.back, c.in)
		}
	}
}

// Empty lists stay lists on the wire ([] rather than null), as docs/openapi-gate.yaml
// types them and as the server has always sent them.
func TestSyncToWireKeepsEmptyLists(t *testing.T) {
	out, err := json.Marshal(syncToWire(access.GateSync{}))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"keys", "zones", "revocations", "commands", "face_templates", "face_purges", "memberships"} {
		if l, ok := m[k].([]any); !ok || len(l) != 0 {
			t.Errorf("%s: %v, want []", k, m[k])
		}
	}
}

// allSet fails for any zero field, empty list or nil pointer in v, so that the cases
// above exercise every field there is.
func allSet(t *testing.T, path string, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			if v.Interface().(time.Time).IsZero() {
				t.Errorf("%s is zero", path)
			}
			return
		}
		for i := range v.NumField() {
			allSet(t, path+"."+v.Type().Field(i).Name, v.Field(i))
		}
	case reflect.Slice:
		if v.Len() == 0 {
			t.Errorf("%s is empty", path)
		}
		if v.Type().Elem().Kind() == reflect.Struct {
			for i := range v.Len() {
				allSet(t, path, v.Index(i))
			}
		}
	case reflect.Pointer:
		if v.IsNil() {
			t.Errorf("%s is nil", path)
			return
		}
		allSet(t, path, v.Elem())
	default:
		if v.IsZero() {
			t.Errorf("%s is zero", path)
		}
	}
}
