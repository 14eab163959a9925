package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"gatepass/internal/gate"
	"gatepass/internal/gateapi"
)

// Status is what `gate-agent status` shows; the running agent writes it every few
// seconds (the local database itself is locked while the agent runs).
type Status struct {
	Gate          gateapi.Gate `json:"gate"`
	Server        string       `json:"server"`
	Running       bool         `json:"running"`
	PID           int          `json:"pid"`
	UpdatedAt     time.Time    `json:"updated_at"`
	LastSyncAt    time.Time    `json:"last_sync_at"`
	Cursor        int64        `json:"cursor"`
	Online        bool         `json:"online"`
	QueueDepth    int          `json:"queue_depth"`
	Revocations   int          `json:"revocations"`
	ClockOffsetMS int64        `json:"clock_offset_ms"`
	// ClockAlarm: the gate's clock is off the server's by more than the alarm limit.
	ClockAlarm bool `json:"clock_alarm"`
	// DoorClockDriftMS is the door controller's clock minus the gate's (a UHPPOTE door;
	// absent: no controller, or its clock not read yet). The gate never takes its time.
	DoorClockDriftMS *int64 `json:"door_clock_drift_ms,omitempty"`
	// DeniedDropped counts denied reads decided but not recorded one by one since start
	// (summarised in flood_suppressed events).
	DeniedDropped int64 `json:"denied_dropped"`
	// Replay and Passback are the entries held in memory (flat over a long run).
	Replay    int    `json:"replay_entries"`
	Passback  int    `json:"passback_entries"`
	LocalHTTP string `json:"local_http,omitempty"`
	// StoreFailures counts the decisions since start whose event the disk refused (the
	// door stayed shut); StorageError is the error while storing still fails.
	StoreFailures int64  `json:"store_failures"`
	StorageError  string `json:"storage_error,omitempty"`
	// OfflineLimit is the community's offline limit as the gate applies it (absent: the
	// gate has no access rules yet); Lockdown the lockdown in force here, if any.
	OfflineLimit *OfflineLimitStatus `json:"offline_limit,omitempty"`
	Lockdown     *LockdownStatus     `json:"lockdown,omitempty"`
}

// OfflineLimitStatus says how long the gate may go without a sync before its offline
// policy applies, and whether it has gone longer (Past: decisions follow the policy and
// their events are marked offline_limit).
type OfflineLimitStatus struct {
	LimitSeconds int    `json:"limit_seconds"`
	Policy       string `json:"policy"`
	Past         bool   `json:"past"`
	// SecondsSinceSync is how long since the last successful sync (absent: never synced).
	SecondsSinceSync *int64 `json:"seconds_since_sync,omitempty"`
}

// LockdownStatus is a lockdown in force at this gate.
type LockdownStatus struct {
	ID     string     `json:"id"`
	Scope  string     `json:"scope"`
	Reason string     `json:"reason"`
	EndsAt *time.Time `json:"ends_at,omitempty"`
}

// accessStatus is the offline limit and lockdown of state st at the gate's time now.
func accessStatus(st *gate.State, now time.Time) (*OfflineLimitStatus, *LockdownStatus) {
	if st == nil || st.Access == nil {
		return nil, nil
	}
	ol := &OfflineLimitStatus{LimitSeconds: int(st.Access.OfflineLimit / time.Second), Policy: st.Access.OfflinePolicy, Past: st.PastOfflineLimit(now)}
	if !st.SyncedAt.IsZero() {
		since := int64(now.Sub(st.SyncedAt) / time.Second)
		ol.SecondsSinceSync = &since
	}
	var ld *LockdownStatus
	if l, ok := st.Locked(now); ok {
		ld = &LockdownStatus{ID: l.ID.String(), Scope: l.Scope, Reason: l.Reason, EndsAt: l.EndsAt}
	}
	return ol, ld
}

// ReadStatus reads dir's status; when no agent runs it is rebuilt from the local database.
func ReadStatus(dir string) (Status, error) {
	reg, err := LoadRegistration(dir)
	if err != nil {
		return Status{}, err
	}
	st, err := OpenLocalDB(filepath.Join(dir, localDBFile), true)
	if err == nil {
		defer st.Close()
		c, _ := st.Cursor()
		out := Status{Gate: reg.Gate, Server: reg.Server, LastSyncAt: st.SyncedAt(), Cursor: c, QueueDepth: st.QueueDepth(), Revocations: st.RevocationCount()}
		if state, err := st.LoadState(reg.Gate); err == nil {
			out.OfflineLimit, out.Lockdown = accessStatus(state, time.Now())
		}
		return out, nil
	}
	var s Status
	raw, rerr := os.ReadFile(filepath.Join(dir, statusFile))
	if rerr != nil {
		return s, fmt.Errorf("%w; and no status file: %v", err, rerr)
	}
	return s, json.Unmarshal(raw, &s)
}

// housekeeping prunes ended data, watches the wall clock against the monotonic one and
// writes the status file.
func (a *Agent) housekeeping(ctx context.Context) {
	var wall wallWatch
	lastPrune := time.Time{}
	for {
		a.writeStatus(true)
		if wall.stepped(time.Now()) {
			a.cfg.Log.Warn("gate wall clock stepped; next sync is a full snapshot")
			if err := a.local.NeedFull(); err != nil {
				a.cfg.Log.Error("clock jump", "err", err)
			}
		}
		if time.Since(lastPrune) >= a.cfg.PruneEvery {
			a.prune(a.Now())
			lastPrune = time.Now()
		}
		a.summariseFloods(false)
		if !sleep(ctx, min(2*time.Second, a.cfg.PruneEvery)) {
			return
		}
	}
}

// SetLocalHTTP records the local HTTP address for the status file.
func (a *Agent) SetLocalHTTP(addr string) { a.localHTTP = addr }

func (a *Agent) writeStatus(running bool) {
	s := a.statusNow()
	s.Running = running
	if err := writePrivate(filepath.Join(a.cfg.StateDir, statusFile), s); err != nil {
		a.cfg.Log.Warn("status file", "err", err)
	}
}

// statusNow is the running agent's status.
func (a *Agent) statusNow() Status {
	c, _ := a.local.Cursor()
	off, _, alarm := a.clock.report()
	s := Status{
		Gate: *a.gateInfo.Load(), Server: a.reg.Server, Running: true, PID: os.Getpid(), UpdatedAt: time.Now().UTC(),
		Cursor: c, Online: a.contact.online(), QueueDepth: a.local.QueueDepth(), Revocations: a.local.RevocationCount(),
		ClockOffsetMS: off.Milliseconds(), ClockAlarm: alarm, LocalHTTP: a.localHTTP, DeniedDropped: a.dropped.Load(),
		DoorClockDriftMS: a.door.driftMS.report(),
	}
	s.Replay, s.Passback = a.decider.Memory().Len()
	s.OfflineLimit, s.Lockdown = accessStatus(a.decider.State(), a.Now())
	s.StoreFailures, s.StorageError = a.storage.report()
	if ns := a.syncedAt.Load(); ns != 0 {
		s.LastSyncAt = time.Unix(0, ns).UTC()
	}
	return s
}

// prune drops what has ended: revocations by the estimate of the server's time (never by
// the gate's clock alone), replay and passback entries by the earlier of the two clocks
// (gate.PruneTime), on disk and in memory (the maps would otherwise only grow).
func (a *Agent) prune(now time.Time) {
	serverNow := a.clock.serverNow(now)
	at := gate.PruneTime(now, serverNow)
	if err := a.local.Prune(at, serverNow); err != nil {
		a.cfg.Log.Warn("prune", "err", err)
	}
	a.decider.Memory().Prune(at)
	a.stateMu.Lock()
	if st := a.decider.State(); st != nil {
		a.decider.SetState(st.Forgetting(serverNow))
	}
	a.stateMu.Unlock()
}
