package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os/exec"
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
