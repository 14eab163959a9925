package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/gateapi"
)

// trial is one revocation on its way to every gate: got[i] is when gate i's sync
// delivered it, counted from the moment staff's revoke call was sent.
type trial struct {
	cred  uuid.UUID
	start time.Time
	got   []atomic.Int64 // nanoseconds after start; 0: not yet
	left  atomic.Int64
	done  chan struct{}
}

// watcher hands each sync answer to the trial under way.
type watcher struct{ cur atomic.Pointer[trial] }

func (w *watcher) seen(g *gate, s *gateapi.Sync) {
	t := w.cur.Load()
	if t == nil {
		return
	}
	for _, r := range s.Revocations {
		if r.Credential == t.cred {
			if t.got[g.i].CompareAndSwap(0, max(1, int64(time.Since(t.start)))) && t.left.Add(-1) == 0 {
				close(t.done)
			}
			return
		}
	}
}

// fanout is what a series of trials measured.
type fanout struct {
	label   string
	revoke  []time.Duration // the staff's revoke call
	last    []time.Duration // until the last gate had it
	median  []time.Duration // until half the gates had it
	missing int             // gate deliveries still missing when a trial timed out
}

// card is a card to revoke: its resident and id.
type card struct{ resident, id string }

// trials revokes n cards one after another, each once every gate has had the previous,
// and measures how long each takes to reach every gate (at most timeout each).
func trials(w *watcher, adm *admin, gates int, cards *[]card, n int, timeout time.Duration, label string) (fanout, error) {
	out := fanout{label: label}
	for k := 0; k < n; k++ {
		if len(*cards) == 0 {
			return out, errors.New("out of cards to revoke")
		}
		c := (*cards)[0]
		*cards = (*cards)[1:]
		t := &trial{cred: uuid.MustParse(c.id), got: make([]atomic.Int64, gates), done: make(chan struct{})}
		t.left.Store(int64(gates))
		t.start = time.Now()
		w.cur.Store(t)
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		err := adm.call(ctx, http.MethodPost, "/residents/"+c.resident+"/cards/"+c.id+"/revoke", nil, nil)
		out.revoke = append(out.revoke, time.Since(t.start))
		if err != nil {
			cancel()
			return out, fmt.Errorf("revoke: %w", err)
		}
		select {
		case <-t.done:
		case <-ctx.Done():
		}
		cancel()
		w.cur.Store(nil)
		var times []time.Duration
		for i := range t.got {
			if v := t.got[i].Load(); v > 0 {
				times = append(times, time.Duration(v))
			}
		}
		out.missing += gates - len(times)
		if len(times) == gates {
			out.last = append(out.last, quantile(times, 1))
		} else {
			out.last = append(out.last, timeout) // counted as the timeout: it did not arrive
		}
		out.median = append(out.median, quantile(times, 0.5))
		fmt.Printf("  %s trial %2d: revoke call %s, half the gates %s, every gate %s (load %s)\n", label, k+1,
			ms(out.revoke[k]), ms(out.median[k]), ms(out.last[k]), loadavg())
		// Staff do not revoke in lockstep with the polls: a random pause lands the next
		// revocation anywhere in the poll cycle.
		time.Sleep(time.Second + rand.N(time.Second))
	}
	return out, nil
}

func (f fanout) print() {
	fmt.Printf("| %s | %d | %s | %s / %s / %s | %s / %s | %d |\n", f.label, len(f.last), ms(quantile(f.median, 0.5)),
		ms(quantile(f.last, 0.5)), ms(quantile(f.last, 0.99)), ms(quantile(f.last, 1)),
		ms(quantile(f.revoke, 0.5)), ms(quantile(f.revoke, 1)), f.missing)
}

// uploads is the gates' event traffic during a fan-out: every gate sends batches of
// batch events, one every every (0: back to back, a gate draining a backlog), backing
// off as the server's Retry-After says.
type uploads struct {
	stored, requests, limited, busy, failed atomic.Int64
	cancel                                  context.CancelFunc
	wg                                      sync.WaitGroup
	began                                   time.Time
}

func startUploads(gates []*gate, cred uuid.UUID, batch int, every time.Duration) *uploads {
	ctx, cancel := context.WithCancel(context.Background())
	u := &uploads{cancel: cancel, began: time.Now()}
	for _, g := range gates {
		u.wg.Add(1)
		go func() {
			defer u.wg.Done()
			if every > 0 {
				sleep(ctx, rand.N(every)) // gates are not in step
			}
			for ctx.Err() == nil {
				n, err := g.upload(ctx, g.events(batch, cred))
				u.requests.Add(1)
				u.stored.Add(int64(n))
				var ae *apiError
				switch {
				case ctx.Err() != nil:
					return
				case errors.As(err, &ae) && ae.status == http.StatusTooManyRequests:
					u.limited.Add(1)
					sleep(ctx, max(ae.retryAfter, time.Second))
					continue
				case errors.As(err, &ae) && ae.status == http.StatusServiceUnavailable && ae.retryAfter > 0:
					// Busy: the server refused at once rather than queue; the agent comes
					// back in the second half of Retry-After (internal/agent/client.go).
					u.busy.Add(1)
					sleep(ctx, ae.retryAfter/2+rand.N(ae.retryAfter/2+1))
					continue
				case err != nil:
					u.failed.Add(1)
					sleep(ctx, 500*time.Millisecond)
					continue
				}
				if every > 0 {
					sleep(ctx, every)
				}
			}
		}()
	}
	return u
}

// stop ends the uploads and returns events stored per second while they ran.
func (u *uploads) stop() float64 {
	u.cancel()
	u.wg.Wait()
	return float64(u.stored.Load()) / time.Since(u.began).Seconds()
}
