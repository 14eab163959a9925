package gatesync_test

import (
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"gatepass/server/internal/gatesync"
	"gatepass/server/internal/servertest"
)

// A gate's clock alarm (issue 11, item 1): the heartbeat carries the gate's offset and
// whether it is past the gate's alarm limit; staff see both in the gate list and on the
// gate, and a gauge counts the gates in alarm.
func TestHeartbeatClockAlarm(t *testing.T) {
	h := servertest.New(t)
	f := h.Community()
	gate, tok := h.EnrolledGate(f)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(gatesync.ClockAlarms(h.DB))
	gauge := func() float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil || len(mfs) != 1 || mfs[0].GetName() != "gatepass_gates_clock_alarm" {
			t.Fatalf("metrics %v: %v", mfs, err)
		}
		return mfs[0].GetMetric()[0].GetGauge().GetValue()
	}
	before := gauge()
	beat := func(offset int64, alarm bool) {
		h.Must(http.StatusOK, "POST", "/gate/v1/heartbeat", tok,
			map[string]any{"agent_version": "2.0", "queue_depth": 0, "clock_offset_ms": offset, "clock_alarm": alarm})
	}
	shown := func() (listed, got map[string]any) {
		for _, g := range h.Must(http.StatusOK, "GET", "/admin/v1/communities/"+f.ID+"/gates", f.Guard, nil)["gates"].([]any) {
			if g.(map[string]any)["id"] == gate {
				listed = g.(map[string]any)
			}
		}
		return listed, h.Must(http.StatusOK, "GET", "/admin/v1/gates/"+gate, f.Auditor, nil)
	}
	beat(45000, true)
	listed, got := shown()
	for _, g := range []map[string]any{listed, got} {
		if g["clock_alarm"] != true || g["clock_offset_ms"] != 45000.0 {
			t.Fatalf("gate after an alarm: %v", g)
		}
	}
	if n := gauge(); n != before+1 {
		t.Fatalf("gates in clock alarm: %v, want %v", n, before+1)
	}
	beat(120, false)
	listed, got = shown()
	for _, g := range []map[string]any{listed, got} {
		if g["clock_alarm"] != false || g["clock_offset_ms"] != 120.0 {
			t.Fatalf("gate after the alarm cleared: %v", g)
		}
	}
	if n := gauge(); n != before {
		t.Fatalf("gates in clock alarm after it cleared: %v, want %v", n, before)
	}
	// Another community's staff learn nothing of the gate.
	other := h.Community()
	h.Must(http.StatusNotFound, "GET", "/admin/v1/gates/"+gate, other.Admin, nil)
}
