package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"
)

// Door opens the door for a pulse. Implementations must not block longer than the
// pulse plus a short timeout.
type Door interface {
	Open(ctx context.Context, pulse time.Duration) error
}

// LockableDoor is a door whose controller can hold it shut: normally closed, so that no
// opening request, exit button or card opens it. A lockdown from the server (not built
// yet) is to call Lockdown(ctx, true) when it reaches the gate and Lockdown(ctx, false)
// when it ends; a manual release still opens through Open.
type LockableDoor interface {
	Door
	Lockdown(ctx context.Context, on bool) error
}

// LogDoor only logs: for installation and tests.
type LogDoor struct{ Log *slog.Logger }

// Open logs the pulse.
func (d LogDoor) Open(_ context.Context, pulse time.Duration) error {
	d.Log.Info("DOOR OPEN", "pulse", pulse)
	return nil
}

// CommandDoor runs a program with fixed arguments plus the pulse in milliseconds. It is
// executed directly, never through a shell, and never sees the scanned text.
type CommandDoor struct {
	Path string
	Args []string
}

// Open runs the program.
func (d CommandDoor) Open(ctx context.Context, pulse time.Duration) error {
	args := append(append([]string{}, d.Args...), fmt.Sprint(pulse.Milliseconds()))
	return runProgram(ctx, d.Path, args)
}

// runProgram runs path with args, at most 10 s, without a shell.
func runProgram(ctx context.Context, path string, args []string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", path, err, bytes.TrimSpace(out))
	}
	return nil
}

// HTTPDoor asks a door controller to open: POST URL {"pulse_ms": N}, 2xx is success.
type HTTPDoor struct {
	URL    string
	Client *http.Client
}

// Open calls the controller.
func (d HTTPDoor) Open(ctx context.Context, pulse time.Duration) error {
	body, _ := json.Marshal(map[string]int64{"pulse_ms": pulse.Milliseconds()})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("door controller: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	c := d.Client
	if c == nil {
		c = &http.Client{Timeout: 5 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("door controller: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("door controller answered %d", resp.StatusCode)
	}
	return nil
}

// Line is one output line (a relay). The GPIO character device implements it; tests
// use a fake.
type Line interface {
	SetValue(v int) error
}

// GPIODoor drives a relay on a GPIO line: high for the pulse, then low.
type GPIODoor struct {
	Line  Line
	Sleep func(time.Duration) // time.Sleep unless a test sets it
}

// Open pulses the line. The line goes low again even if the context ends: a relay left
// energised holds the door open.
func (d GPIODoor) Open(ctx context.Context, pulse time.Duration) error {
	if err := d.Line.SetValue(1); err != nil {
		return fmt.Errorf("gpio high: %w", err)
	}
	sleep := d.Sleep
	if sleep == nil {
		sleep = time.Sleep
	}
	sleep(pulse)
	if err := d.Line.SetValue(0); err != nil {
		return fmt.Errorf("gpio low: %w", err)
	}
	return nil
}

// outputs runs what decisions set off at the door (the door's pulse, the reader's beep)
// one at a time and in order, on the agent's own context, never a request's: the reader
// that pushed a scan gets its answer once the decision is stored, and hanging up cannot
// cut the pulse it started (issue 12 item 4). Close runs what is queued before it
// returns, so a granted decision opens the door even while the agent stops.
type outputs struct {
	ctx     context.Context // the agent's: it outlives every request, and ends after close
	pending atomic.Int64    // queued or running (GET /status: door_pending)
	mu      sync.Mutex
	closed  bool
	jobs    chan func(context.Context)
	done    chan struct{}
}

// outputQueue bounds what waits to run: past it, queueing waits (the door is
// behind by 64 pulses; the decisions are stored, their answers wait).
const outputQueue = 64

func newOutputs(ctx context.Context) *outputs {
	o := &outputs{ctx: ctx, jobs: make(chan func(context.Context), outputQueue), done: make(chan struct{})}
	go func() {
		defer close(o.done)
		for job := range o.jobs {
			job(o.ctx)
			o.pending.Add(-1)
		}
	}()
	return o
}

// run queues job; once the queue is closed it runs job at once, here.
func (o *outputs) run(job func(context.Context)) {
	o.pending.Add(1)
	o.mu.Lock()
	if !o.closed {
		o.jobs <- job
		o.mu.Unlock()
		return
	}
	o.mu.Unlock()
	job(o.ctx)
	o.pending.Add(-1)
}

// settle waits until everything queued before it has run.
func (o *outputs) settle() {
	ran := make(chan struct{})
	o.run(func(context.Context) { close(ran) })
	<-ran
}

// close runs what is queued and stops the queue.
func (o *outputs) close() {
	o.mu.Lock()
	if !o.closed {
		o.closed = true
		close(o.jobs)
	}
	o.mu.Unlock()
	<-o.done
}
