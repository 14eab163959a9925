package gatesync

import (
	"gatepass/internal/access"
	"gatepass/internal/gateapi"
)

// The store speaks the domain (package access); the gate API speaks gateapi, which the
// agent shares. These are the only places the two meet. Most are Go struct conversions,
// which compile only while both sides have the same fields, so a field added to one side
// fails the build here (or wire_test.go) instead of going missing on the wire.

func gateToWire(g access.GateIdentity) gateapi.Gate {
	return gateapi.Gate{ID: g.ID, Community: g.Community, Name: g.Name, Zone: g.Zone, Direction: g.Direction,
		Settings: gateapi.Settings(g.Settings)}
}

func syncToWire(s access.GateSync) gateapi.Sync {
	return gateapi.Sync{Cursor: s.Cursor, Full: s.Full, More: s.More, ServerTime: s.ServerTime, Gate: gateToWire(s.Gate),
		Keys:          each(s.Keys, func(k access.SyncKey) gateapi.Key { return gateapi.Key(k) }),
		Zones:         each(s.Zones, func(z access.ZoneRule) gateapi.Zone { return gateapi.Zone(z) }),
		Revocations:   each(s.Revocations, func(r access.Revocation) gateapi.Revocation { return gateapi.Revocation(r) }),
		Commands:      each(s.Commands, func(c access.GateCommand) gateapi.Command { return gateapi.Command(c) }),
		FaceTemplates: each(s.FaceTemplates, func(t access.GateFaceTemplate) gateapi.FaceTemplate { return gateapi.FaceTemplate(t) }),
		FacePurges:    each(s.FacePurges, func(p access.FacePurge) gateapi.FacePurge { return gateapi.FacePurge(p) }),
		Holders:       each(s.Holders, func(h access.CredentialHolder) gateapi.Holder { return gateapi.Holder(h) }),
		ForeignKIDs:   each(s.ForeignKIDs, func(k uint32) uint32 { return k }),
		Access:        accessToWire(s.Access),
		Memberships:   each(s.Memberships, func(m access.HolderGroups) gateapi.Membership { return gateapi.Membership(m) }),
	}
}

func accessToWire(a *access.GateAccess) *gateapi.Access {
	if a == nil {
		return nil
	}
	return &gateapi.Access{TimeZone: a.TimeZone, OfflineLimitSeconds: a.OfflineLimitSeconds, OfflinePolicy: a.OfflinePolicy,
		Groups:    each(a.Groups, func(g access.GateGroup) gateapi.AccessGroup { return gateapi.AccessGroup(g) }),
		Lockdowns: each(a.Lockdowns, func(l access.GateLockdown) gateapi.Lockdown { return gateapi.Lockdown(l) }),
	}
}

// each converts a list element by element. The result is never nil: the wire sends
// empty lists as [], never null.
func each[T, U any](in []T, f func(T) U) []U {
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

func eventFromWire(e gateapi.Event) access.GateEvent {
	return access.GateEvent{ID: e.ID, OccurredAt: e.OccurredAt, Gate: e.GateID, Credential: e.Credential, Subject: e.Subject,
		Method: e.Method, Result: e.Result, Reason: e.Reason, Offline: e.Offline, Stale: e.Stale, Staff: e.Staff,
		ReplayKey: e.ReplayKey, Resident: e.Resident, Score: e.Score, Dropped: e.Dropped, OfflineLimit: e.OfflineLimit}
}
