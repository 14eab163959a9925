package agent

import (
	"fmt"
	"net/http"
	"time"
)

// serveMetrics is the local GET /metrics, in the Prometheus text format, for a node
// exporter's textfile or a scrape on the box: whether the gate is online, how long since
// its last sync, whether it is past its community's offline limit, whether a lockdown
// holds here, its queue and its clock. A gate past its offline limit cannot tell the
// server; the server's own gatepass_gates_past_offline_limit counts it from the other
// side (docs/operations.md).
func (a *Agent) serveMetrics(w http.ResponseWriter, _ *http.Request) {
	now := a.Now()
	st := a.decider.State()
	ol, ld := accessStatus(st, now)
	b := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	since := -1.0
	if ns := a.syncedAt.Load(); ns != 0 {
		since = now.Sub(time.Unix(0, ns)).Seconds()
	}
	off, _, alarm := a.clock.report()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	metric := func(name, help string, v float64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %g\n", name, help, name, name, v)
	}
	metric("gatepass_gate_online", "1 when the gate heard from its server within the last 3 s.", float64(b(a.contact.online())))
	metric("gatepass_gate_seconds_since_sync", "Seconds since the last successful sync (-1: never).", since)
	if ol != nil {
		metric("gatepass_gate_offline_limit_seconds", "The community's offline limit.", float64(ol.LimitSeconds))
		metric("gatepass_gate_offline_limit_exceeded", "1 when the gate has not synced for longer than its offline limit: it follows the offline policy.", float64(b(ol.Past)))
	}
	metric("gatepass_gate_lockdown", "1 when a lockdown holds at this gate.", float64(b(ld != nil)))
	metric("gatepass_gate_queue_depth", "Events not yet acknowledged by the server.", float64(a.local.QueueDepth()))
	metric("gatepass_gate_clock_offset_seconds", "The gate's clock minus the server's.", off.Seconds())
	metric("gatepass_gate_clock_alarm", "1 when the clock offset is past its alarm limit.", float64(b(alarm)))
}
