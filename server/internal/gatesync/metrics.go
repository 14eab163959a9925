package gatesync

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatepass/internal/store"
)

// clockAlarms is the gauge of gates in clock alarm, read from the database at each
// scrape: every server copy reports the same number, whichever copy the gates' heartbeats
// reached.
type clockAlarms struct {
	db   *store.DB
	desc *prometheus.Desc
}

// ClockAlarms is a Prometheus collector of gatepass_gates_clock_alarm: the enabled gates
// whose last heartbeat reported a clock off by more than their alarm limit. Register it
// on the server's registry; alert when it is above 0.
func ClockAlarms(db *store.DB) prometheus.Collector {
	return &clockAlarms{db: db, desc: prometheus.NewDesc("gatepass_gates_clock_alarm",
		"Enabled gates whose last heartbeat reported a clock alarm (offset past their limit).", nil, nil)}
}

func (c *clockAlarms) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *clockAlarms) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, err := c.db.GatesInClockAlarm(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n))
}

// pastOfflineLimit is the gauge of gates past their community's offline limit.
type pastOfflineLimit struct {
	db   *store.DB
	desc *prometheus.Desc
}

// PastOfflineLimit is a Prometheus collector of gatepass_gates_past_offline_limit: the
// enabled, enrolled gates not heard from (no heartbeat) for longer than their
// community's offline limit. Such a gate follows its community's offline policy and
// cannot say so itself; alert when it is above 0.
func PastOfflineLimit(db *store.DB) prometheus.Collector {
	return &pastOfflineLimit{db: db, desc: prometheus.NewDesc("gatepass_gates_past_offline_limit",
		"Enabled gates not heard from for longer than their community's offline limit: they follow its offline policy.", nil, nil)}
}

func (c *pastOfflineLimit) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *pastOfflineLimit) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, err := c.db.GatesPastOfflineLimit(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n))
}
