package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"go.bug.st/serial"

	"gatepass/internal/face"
	"gatepass/internal/gate"
)

// ReadLines feeds each line of r (a keyboard-wedge scanner on stdin, a serial tty, a TCP
// connection) to Read until r ends or ctx does. A line longer than the gate reads is
// skipped to its end and refused as oversize; garbage never stops the reader.
func (a *Agent) ReadLines(ctx context.Context, source string, r io.Reader) error {
	br := bufio.NewReaderSize(r, gate.MaxFrame-1)
	for ctx.Err() == nil {
		line, cut, err := readLine(br)
		if line != nil || cut {
			if _, serr := a.Read(source, line, cut); serr != nil && !errors.Is(serr, gate.ErrEmpty) && !errors.Is(serr, gate.ErrOversize) {
				a.cfg.Log.Error("scan", "source", source, "err", serr)
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read %s: %w", source, err)
		}
	}
	return ctx.Err()
}

// readLine returns the next line with its '\n' (gate.Frame strips it). A line that does
// not fit the buffer (gate.MaxFrame-1 bytes, line ending included) is skipped to its
// end, unread by any decision, and returned as cut.
func readLine(br *bufio.Reader) (line []byte, cut bool, err error) {
	line, err = br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = br.ReadSlice('\n')
		}
		return nil, true, err
	}
	if len(line) == 0 {
		return nil, false, err
	}
	return append([]byte(nil), line...), false, err
}

// ReadSerial reads a serial scanner at baud, reopening the port if it goes away.
func (a *Agent) ReadSerial(ctx context.Context, port string, baud int) error {
	for ctx.Err() == nil {
		p, err := serial.Open(port, &serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
		if err != nil {
			a.cfg.Log.Warn("serial open", "port", port, "err", err)
			sleep(ctx, 2*time.Second)
			continue
		}
		stop := context.AfterFunc(ctx, func() { p.Close() })
		err = a.ReadLines(ctx, "serial:"+port, p)
		stop()
		p.Close()
		if ctx.Err() == nil {
			a.cfg.Log.Warn("serial port closed; reopening", "port", port, "err", err)
			sleep(ctx, time.Second)
		}
	}
	return nil
}

// ServeTCP accepts scanners that send lines over TCP (loopback unless configured) until
// ctx ends. An accept error other than the listener's close (no file descriptor left, a
// connection reset before it was accepted) is waited out with a growing delay, as
// net/http does: it never ends the input, let alone the process. At most
// Config.MaxConns connections are served at once (one more is closed at once, so the
// listen queue keeps moving), and one that sends nothing for Config.IdleTimeout is
// closed.
func (a *Agent) ServeTCP(ctx context.Context, ln net.Listener) error {
	context.AfterFunc(ctx, func() { ln.Close() })
	slots := make(chan struct{}, a.cfg.MaxConns)
	var delay time.Duration
	var refusedLog time.Time
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			a.cfg.Log.Warn("tcp scanner: accept failed; retrying", "err", err, "retry_in", delay)
			sleep(ctx, delay)
			continue
		}
		delay = 0
		select {
		case slots <- struct{}{}:
		default:
			conn.Close()
			if time.Since(refusedLog) > time.Minute {
				refusedLog = time.Now()
				a.cfg.Log.Warn("tcp scanner: connection refused, too many open", "max", a.cfg.MaxConns, "remote", conn.RemoteAddr().String())
			}
			continue
		}
		go func() {
			defer func() { <-slots }()
			defer conn.Close()
			stop := context.AfterFunc(ctx, func() { conn.Close() })
			defer stop()
			err := a.ReadLines(ctx, "tcp:"+conn.RemoteAddr().String(), idleReader{conn, a.cfg.IdleTimeout})
			switch {
			case errors.Is(err, os.ErrDeadlineExceeded):
				a.cfg.Log.Info("tcp scanner: idle connection closed", "remote", conn.RemoteAddr().String(), "idle", a.cfg.IdleTimeout)
			case err != nil && ctx.Err() == nil:
				a.cfg.Log.Warn("tcp scanner", "err", err)
			}
		}()
	}
}

// idleReader reads a connection with a deadline renewed before every read: a connection
// that sends nothing for idle fails its read and is closed.
type idleReader struct {
	conn net.Conn
	idle time.Duration
}

func (r idleReader) Read(p []byte) (int, error) {
	if err := r.conn.SetReadDeadline(time.Now().Add(r.idle)); err != nil {
		return 0, err
	}
	return r.conn.Read(p)
}

// LimitListener caps the connections ln serves at once at n: Accept waits for a slot.
// The local HTTP input uses it (with its server's timeouts, slots free up); a scanner
// flood cannot make the agent hold thousands of connections.
func LimitListener(ln net.Listener, n int) net.Listener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, n)}
}

type limitListener struct {
	net.Listener
	slots chan struct{}
}

func (l *limitListener) Accept() (net.Conn, error) {
	l.slots <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.slots }}, nil
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// HTTPHandler serves the local endpoints: POST /scan (a reader pushes a scan; the body
// is the text, or JSON {"payload": "..."}), POST /check (decide without acting) and
// GET /status.
func (a *Agent) HTTPHandler() http.Handler {
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("POST /scan", func(w http.ResponseWriter, r *http.Request) {
		raw, cut, ok := readScanBody(w, r)
		if !ok {
			return
		}
		out, err := a.Read("http:"+remoteHost(r.RemoteAddr), raw, cut)
		if errors.Is(err, gate.ErrEmpty) {
			httpError(w, http.StatusBadRequest, "empty_input", "nothing to decide")
			return
		}
		reply(w, scanStatus(err), out)
	})
	mux.HandleFunc("POST /check", func(w http.ResponseWriter, r *http.Request) {
		raw, cut, ok := readScanBody(w, r)
		if !ok {
			return
		}
		dec, err := a.CheckInput(raw, cut)
		if errors.Is(err, gate.ErrEmpty) {
			httpError(w, http.StatusBadRequest, "empty_input", "nothing to decide")
			return
		}
		reply(w, scanStatus(err), CheckReport(dec))
	})
	mux.HandleFunc("POST /face", func(w http.ResponseWriter, r *http.Request) {
		p, ok := decodeProbe(w, r)
		if !ok {
			return
		}
		out, err := a.Face(p)
		var bad errProbe
		switch {
		case errors.As(err, &bad):
			httpError(w, http.StatusUnprocessableEntity, "invalid_probe", bad.Error())
			return
		case err != nil:
			reply(w, http.StatusServiceUnavailable, out)
			return
		}
		reply(w, http.StatusOK, out)
	})
	mux.HandleFunc("POST /face/enrol", a.serveEnrol)
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		off, _, alarm := a.clock.report()
		st := map[string]any{"online": a.contact.online(), "queue_depth": a.local.QueueDepth(), "clock_offset_ms": off.Milliseconds(), "clock_alarm": alarm,
			"door_pending": a.pulses.pending.Load()}
		fails, storeErr := a.storage.report()
		st["store_failures"] = fails
		if storeErr != "" {
			st["storage_error"] = storeErr
		}
		if ol, ld := accessStatus(a.decider.State(), a.Now()); ol != nil {
			st["offline_limit"] = ol
			if ld != nil {
				st["lockdown"] = ld
			}
		}
		reply(w, http.StatusOK, st)
	})
	mux.HandleFunc("GET /metrics", a.serveMetrics)
	return mux
}

func httpError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

// decodeProbe reads a reader's {"model", "embedding", "liveness"} body strictly (size cap,
// no unknown fields, nothing after it) for POST /face and POST /face/enrol; on a bad body
// it has answered already and ok is false.
func decodeProbe(w http.ResponseWriter, r *http.Request) (p face.ProbeRequest, ok bool) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, face.MaxProbeBody+1))
	if err != nil || len(raw) > face.MaxProbeBody {
		httpError(w, http.StatusRequestEntityTooLarge, "body_too_large", "a probe or template is at most 64 KiB")
		return p, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil || dec.More() {
		httpError(w, http.StatusBadRequest, "malformed_json", "body must be {\"model\", \"embedding\", \"liveness\"}")
		return p, false
	}
	return p, true
}

// maxJSONScan bounds a JSON scan body: a payload of gate.MaxInput bytes escaped as JSON
// (at most 6 bytes a byte) in {"payload": "..."}.
const maxJSONScan = 6*gate.MaxInput + 64

// readScanBody reads a POST /scan or /check body: the text itself (at most
// gate.MaxFrame bytes are read, never more), or {"payload": "..."}. It returns the raw
// input for gate.Frame and whether it went on past what was read; on a bad body it has
// answered already and ok is false.
func readScanBody(w http.ResponseWriter, r *http.Request) (raw []byte, cut, ok bool) {
	jsonBody := strings.HasPrefix(r.Header.Get("Content-Type"), "application/json")
	limit := int64(gate.MaxFrame)
	if jsonBody {
		limit = maxJSONScan
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, limit))
	if err != nil {
		httpError(w, http.StatusBadRequest, "bad_body", "cannot read body")
		return nil, false, false
	}
	cut = int64(len(raw)) == limit
	if !jsonBody || cut {
		return raw, cut, true
	}
	var in struct {
		Payload *string `json:"payload"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if dec.Decode(&in) != nil || dec.More() || in.Payload == nil {
		httpError(w, http.StatusBadRequest, "malformed_json", `body must be {"payload": "..."}`)
		return nil, false, false
	}
	return []byte(*in.Payload), false, true
}

// scanStatus is the HTTP status of a decided input's answer: 413 for input longer than
// the gate reads (decided and recorded as malformed all the same), 503 when the event
// could not be stored (the door stayed shut).
func scanStatus(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, gate.ErrOversize):
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusServiceUnavailable
}

// remoteHost is the host of a remote address: inputs are told apart per host, not per
// connection, so a flood cannot make itself new sources by reconnecting.
func remoteHost(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
