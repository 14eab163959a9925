package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// do sends a gate API request with the gate token and decodes a JSON answer into out;
// what came back (or did not) is the gate's contact with its server (online.go).
func (a *Agent) do(ctx context.Context, c *http.Client, method, path string, in, out any) error {
	err := a.send(ctx, c, method, path, in, out, nil)
	a.contact.outcome(ctx, err)
	return err
}

// send is do without recording contact (the sync records it itself, once its answer is
// applied); wrap, when set, wraps a 2xx answer's body before it is decoded.
func (a *Agent) send(ctx context.Context, c *http.Client, method, path string, in, out any, wrap func(io.Reader) io.Reader) error {
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
		return &apiError{status: resp.StatusCode, body: strings.TrimSpace(string(raw)), retryAfter: retryAfter(resp.Header)}
	}
	if out != nil {
		// Decoded as it streams: a 100,000-revocation snapshot is never held as text.
		body := io.LimitReader(resp.Body, 256<<20)
		if wrap != nil {
			body = wrap(body)
		}
		if err := json.NewDecoder(body).Decode(out); err != nil {
			return fmt.Errorf("answer of %s %s: %w", method, strings.SplitN(path, "?", 2)[0], err)
		}
	}
	return nil
}

type apiError struct {
	status int
	body   string
	// retryAfter is the server's Retry-After (a 503 while its database is away); 0: none.
	retryAfter time.Duration
}

// retryAfter reads a Retry-After header given in seconds (the server's form); an HTTP
// date or garbage is none.
func retryAfter(h http.Header) time.Duration {
	n, err := strconv.Atoi(h.Get("Retry-After"))
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(min(n, 3600)) * time.Second
}

func (e *apiError) Error() string { return fmt.Sprintf("server answered %d: %s", e.status, e.body) }

// retryDelay is how long a loop waits after its request failed with err, the fails-th
// failure in a row (from 0). A 503 with Retry-After (the server is up and busy, or its
// database is not) is retried after about that long, never longer than max: spread over
// its second half so that a fleet does not come back in step, and without growing, so
// that gates have their revocations within a second or two of the database's return. A
// 429 (this gate's upload budget is spent) waits all of its Retry-After, spread over a
// quarter more: an earlier retry is refused again. Anything else backs off
// exponentially.
func retryDelay(err error, fails int, max time.Duration) time.Duration {
	var ae *apiError
	if errors.As(err, &ae) && ae.status == http.StatusTooManyRequests && ae.retryAfter > 0 {
		return ae.retryAfter + rand.N(ae.retryAfter/4+1)
	}
	if ra := retryAfterOf(err); ra > 0 {
		d := min(ra, max)
		return d/2 + rand.N(d/2+1)
	}
	return backoff(fails, max)
}

// retryAfterOf is the Retry-After of err's 503 or 429 (the server is up and said when to
// come back), or 0.
func retryAfterOf(err error) time.Duration {
	var ae *apiError
	if errors.As(err, &ae) && (ae.status == http.StatusServiceUnavailable || ae.status == http.StatusTooManyRequests) {
		return ae.retryAfter
	}
	return 0
}

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
