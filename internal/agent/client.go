package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// do sends a gate API request with the gate token and decodes a JSON answer into out.
func (a *Agent) do(ctx context.Context, c *http.Client, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.reg.Server+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.reg.Token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return &apiError{status: resp.StatusCode, body: strings.TrimSpace(string(raw))}
	}
	if out != nil {
		// Decoded as it streams: a 100,000-revocation snapshot is never held as text.
		return json.NewDecoder(io.LimitReader(resp.Body, 256<<20)).Decode(out)
	}
	return nil
}

type apiError struct {
	status int
	body   string
}

func (e *apiError) Error() string { return fmt.Sprintf("server answered %d: %s", e.status, e.body) }

// backoff is the delay before retry n (from 0): exponential up to max, with full
// jitter, so that a fleet of gates coming back does not hit the server in step.
func backoff(n int, max time.Duration) time.Duration {
	d := 200 * time.Millisecond << min(n, 10)
	if d > max || d <= 0 {
		d = max
	}
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
