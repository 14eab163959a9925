package agent

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"gatepass/internal/gateapi"
)

func (a *Agent) heartbeatPeriod() time.Duration {
	if a.cfg.Heartbeat > 0 {
		return a.cfg.Heartbeat
	}
	return a.gateInfo.Load().Settings.WithDefaults().Heartbeat()
}

func (a *Agent) heartbeatLoop(ctx context.Context) {
	for {
		_, measured, _ := a.clock.report()
		err := a.HeartbeatOnce(ctx)
		if _, now, _ := a.clock.report(); err == nil && !measured && now {
			// The first heartbeat of a run could only say "0": its answer measured the
			// offset, so report it at once rather than a period later.
			err = a.HeartbeatOnce(ctx)
		}
		if err != nil && ctx.Err() == nil {
			a.cfg.Log.Warn("heartbeat failed", "err", err)
		}
		if !sleep(ctx, a.heartbeatPeriod()) {
			return
		}
	}
}

// HeartbeatOnce reports version, queue depth, clock offset and clock alarm, and storage
// failures when there were any.
func (a *Agent) HeartbeatOnce(ctx context.Context) error {
	version, depth := Version, a.local.QueueDepth()
	sent := a.Now()
	var ack gateapi.HeartbeatAck
	off, _, alarm := a.clock.report()
	offset := off.Milliseconds()
	hb := gateapi.Heartbeat{AgentVersion: &version, QueueDepth: &depth, ClockOffsetMS: &offset, ClockAlarm: &alarm,
		DoorClockDriftMS: a.door.driftMS.report()}
	// Only when there is something to say: a healthy gate's heartbeat is what older
	// servers take.
	if fails, storeErr := a.storage.report(); fails > 0 {
		hb.StoreFailures = &fails
		if storeErr != "" {
			hb.StorageError = &storeErr
		}
	}
	err := a.do(ctx, a.client, http.MethodPost, "/gate/v1/heartbeat", hb, &ack)
	if err != nil {
		return err
	}
	// Midpoint of the round trip against the server's stamp: the next heartbeat reports it.
	mid := sent.Add(a.Now().Sub(sent) / 2)
	if a.clock.measure(a.cfg.Log, mid.Sub(ack.ServerTime), a.gateInfo.Load().Settings.WithDefaults().Skew(), true) {
		if err := a.local.NeedFull(); err != nil {
			return fmt.Errorf("clock jump: %w", err)
		}
	}
	return nil
}
