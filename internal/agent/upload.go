package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/gateapi"
)

// uploadBytes bounds a batch's events at 256 KiB of JSON (about 700 events), a quarter
// of the gate API's 1 MiB body limit: a backlog drains in a few large batches (cheapest
// for the server per event: docs/benchmarks.md), each one short transaction.
const uploadBytes = 256 << 10

// Uploads are coalesced: the first event after a quiet spell goes at once, and the
// events that come in while a batch is on its way go together in the next, sent
// uploadWindow after the one before began or as soon as uploadCount are waiting. A gate
// in light traffic sends each event at once, as before; a busy one sends a batch about
// every uploadWindow instead of one request per scan (batches of one cost the server
// about 40 times more per event than batches of 100: docs/benchmarks.md), and no event
// waits more than uploadWindow for its batch to leave.
const (
	uploadWindow = 100 * time.Millisecond
	uploadCount  = 100
)

// uploadLoop sends queued events in batches, deleting only what the server acknowledged.
func (a *Agent) uploadLoop(ctx context.Context) {
	fails := 0
	for ctx.Err() == nil {
		began := time.Now()
		a.fresh.Store(0)
		n, err := a.UploadOnce(ctx)
		switch {
		case err != nil:
			a.cfg.Log.Warn("upload failed", "err", err, "attempt", fails+1)
			sleep(ctx, retryDelay(err, fails, a.cfg.MaxBackoff))
			fails++
			if retryAfterOf(err) > 0 {
				fails = 0 // the server is up: when it fails otherwise, start again from 200 ms
			}
		case n == 0:
			fails = 0
			select {
			case <-ctx.Done():
			case <-a.upload:
			case <-time.After(5 * time.Second):
			}
		case n >= uploadCount:
			fails = 0 // a backlog: the next batch at once
		default:
			fails = 0
			a.gather(ctx, began.Add(uploadWindow))
		}
	}
}

// gather waits until until for more events to send together, or until uploadCount
// have come in.
func (a *Agent) gather(ctx context.Context, until time.Time) {
	t := time.NewTimer(time.Until(until))
	defer t.Stop()
	for a.fresh.Load() < uploadCount {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			return
		case <-a.upload:
		}
	}
}

// UploadOnce sends one batch; it returns how many events the server acknowledged.
// Attempts the disk refused go first, from memory (storage.go).
func (a *Agent) UploadOnce(ctx context.Context) (int, error) {
	if refused := a.storage.pending(); len(refused) > 0 {
		var ack gateapi.EventsAck
		err := a.do(ctx, a.client, http.MethodPost, "/gate/v1/events", gateapi.Events{Events: refused}, &ack)
		var ae *apiError
		if errors.As(err, &ae) && ae.status == http.StatusUnprocessableEntity {
			// Never taken, never retried: they were not stored anyway (the count stays).
			a.cfg.Log.Error("server refused the report of refused attempts; dropped", "events", len(refused), "err", err)
			for _, ev := range refused {
				ack.Acked = append(ack.Acked, ev.ID)
			}
			err = nil
		}
		if err != nil {
			return 0, fmt.Errorf("report %d refused attempts: %w", len(refused), err)
		}
		a.storage.reported(ack.Acked)
		return len(ack.Acked), nil
	}
	events, ids, err := a.local.Pending(gateapi.MaxBatch, uploadBytes)
	if err != nil || len(events) == 0 {
		return 0, err
	}
	var ack gateapi.EventsAck
	if err := a.do(ctx, a.client, http.MethodPost, "/gate/v1/events", map[string]any{"events": events}, &ack); err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.status == http.StatusUnprocessableEntity {
			// One event the server will never take must not stall the queue behind it:
			// it moves to the rejected bucket (kept on disk for inspection) and the rest go.
			if i, ok := rejectedIndex(ae.body); ok && i < len(ids) {
				a.cfg.Log.Error("server refused an event; set aside", "event", ids[i], "err", err)
				if rerr := a.local.Reject(ids[i]); rerr != nil {
					return 0, fmt.Errorf("set aside refused event: %w", rerr)
				}
				a.kickUpload() // the rest of the batch goes at once
				return 0, nil
			}
		}
		return 0, fmt.Errorf("upload %d events: %w", len(events), err)
	}
	sent := make(map[uuid.UUID]bool, len(ids))
	for _, id := range ids {
		sent[id] = true
	}
	acked := ack.Acked[:0]
	for _, id := range ack.Acked {
		if sent[id] {
			acked = append(acked, id)
		}
	}
	if err := a.local.Delete(acked); err != nil {
		return 0, fmt.Errorf("delete acknowledged: %w", err)
	}
	return len(acked), nil
}

// rejectedIndex finds N in the server's 422 answer {"error": {"field": "events[N]"}}.
func rejectedIndex(body string) (int, bool) {
	var e struct {
		Error struct {
			Field string `json:"field"`
		} `json:"error"`
	}
	if json.Unmarshal([]byte(body), &e) != nil {
		return 0, false
	}
	n, ok := strings.CutPrefix(e.Error.Field, "events[")
	if n, ok2 := strings.CutSuffix(n, "]"); ok && ok2 {
		i, err := strconv.Atoi(n)
		return i, err == nil && i >= 0
	}
	return 0, false
}

// kickUpload wakes the uploader for a new event without waiting: a decision never
// blocks on the network, and one pending wake-up covers any number of events.
func (a *Agent) kickUpload() {
	a.fresh.Add(1)
	select {
	case a.upload <- struct{}{}:
	default:
	}
}
