package agent

import (
	"context"
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
		if err := a.HeartbeatOnce(ctx); err != nil && ctx.Err() == nil {
			a.cfg.Log.Warn("heartbeat failed", "err", err)
		}
		if !sleep(ctx, a.heartbeatPeriod()) {
			return
		}
	}
}

// HeartbeatOnce reports version, queue depth and clock offset.
func (a *Agent) HeartbeatOnce(ctx context.Context) error {
	version, depth := Version, a.local.QueueDepth()
	sent := a.Now()
	var ack gateapi.HeartbeatAck
	offset := a.offsetMS.Load()
	err := a.do(ctx, a.client, http.MethodPost, "/gate/v1/heartbeat",
		gateapi.Heartbeat{AgentVersion: &version, QueueDepth: &depth, ClockOffsetMS: &offset}, &ack)
	if err != nil {
		return err
	}
	// Midpoint of the round trip against the server's stamp: the next heartbeat reports it.
	mid := sent.Add(a.Now().Sub(sent) / 2)
	a.offsetMS.Store(mid.Sub(ack.ServerTime).Milliseconds())
	return nil
}
