package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

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
	LocalHTTP     string       `json:"local_http,omitempty"`
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
		return Status{Gate: reg.Gate, Server: reg.Server, LastSyncAt: st.SyncedAt(), Cursor: c, QueueDepth: st.QueueDepth(), Revocations: st.RevocationCount()}, nil
	}
	var s Status
	raw, rerr := os.ReadFile(filepath.Join(dir, statusFile))
	if rerr != nil {
		return s, fmt.Errorf("%w; and no status file: %v", err, rerr)
	}
	return s, json.Unmarshal(raw, &s)
}

// housekeeping prunes ended data and writes the status file.
func (a *Agent) housekeeping(ctx context.Context) {
	tick := 0
	for {
		a.writeStatus(true)
		if tick%60 == 0 {
			now := a.Now()
			if err := a.local.Prune(now); err != nil {
				a.cfg.Log.Warn("prune", "err", err)
			}
		}
		tick++
		if !sleep(ctx, 2*time.Second) {
			return
		}
	}
}

// SetLocalHTTP records the local HTTP address for the status file.
func (a *Agent) SetLocalHTTP(addr string) { a.localHTTP = addr }

func (a *Agent) writeStatus(running bool) {
	c, _ := a.local.Cursor()
	s := Status{
		Gate: *a.gateInfo.Load(), Server: a.reg.Server, Running: running, PID: os.Getpid(), UpdatedAt: time.Now().UTC(),
		Cursor: c, Online: a.online.Load(), QueueDepth: a.local.QueueDepth(), Revocations: a.local.RevocationCount(),
		ClockOffsetMS: a.offsetMS.Load(), LocalHTTP: a.localHTTP,
	}
	if ns := a.syncedAt.Load(); ns != 0 {
		s.LastSyncAt = time.Unix(0, ns).UTC()
	}
	if err := writePrivate(filepath.Join(a.cfg.StateDir, statusFile), s); err != nil {
		a.cfg.Log.Warn("status file", "err", err)
	}
}
