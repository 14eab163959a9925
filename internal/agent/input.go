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
	"strings"
	"time"

	"go.bug.st/serial"

	"gatepass/internal/face"
	"gatepass/internal/gate"
)

// ReadLines feeds each line of r (a keyboard-wedge scanner on stdin, a serial tty, a TCP
// connection) to Scan until r ends or ctx does. A line longer than gate.MaxInput is consumed
// whole and decided as malformed; garbage never stops the reader.
func (a *Agent) ReadLines(ctx context.Context, source string, r io.Reader) error {
	br := bufio.NewReaderSize(r, gate.MaxInput+2)
	for ctx.Err() == nil {
		line, err := readLine(br)
		if line != nil {
			text := strings.TrimRight(string(line), "\r")
			if text != "" {
				if _, serr := a.Scan(ctx, source, text); serr != nil {
					a.cfg.Log.Error("scan", "source", source, "err", serr)
				}
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

// readLine returns the next line without its '\n'. An oversize line is returned as its
// first gate.MaxInput+1 bytes (so Scan refuses it) after the rest is skipped.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		head := append([]byte(nil), line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = br.ReadSlice('\n')
		}
		return head, err
	}
	if len(line) > 0 && line[len(line)-1] == '\n' {
		line = line[:len(line)-1]
	}
	if len(line) == 0 && err != nil {
		return nil, err
	}
	return append([]byte(nil), line...), err
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

// ServeTCP accepts scanners that send lines over TCP (loopback unless configured).
func (a *Agent) ServeTCP(ctx context.Context, ln net.Listener) error {
	context.AfterFunc(ctx, func() { ln.Close() })
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("tcp scanner: %w", err)
		}
		go func() {
			defer conn.Close()
			stop := context.AfterFunc(ctx, func() { conn.Close() })
			defer stop()
			if err := a.ReadLines(ctx, "tcp:"+conn.RemoteAddr().String(), conn); err != nil && ctx.Err() == nil {
				a.cfg.Log.Warn("tcp scanner", "err", err)
			}
		}()
	}
}

// HTTPHandler serves the local endpoints: POST /scan (a reader pushes a scan; the body
// is the text, or JSON {"payload": "..."}), POST /check (decide without acting) and
// GET /status.
func (a *Agent) HTTPHandler() http.Handler {
	mux := http.NewServeMux()
	read := func(w http.ResponseWriter, r *http.Request) (string, bool) {
		raw, err := io.ReadAll(io.LimitReader(r.Body, gate.MaxInput+1))
		if err != nil {
			http.Error(w, `{"error":{"code":"bad_body","message":"cannot read body"}}`, http.StatusBadRequest)
			return "", false
		}
		text := strings.TrimSpace(string(raw))
		if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			var in struct {
				Payload string `json:"payload"`
			}
			if json.Unmarshal(raw, &in) != nil {
				http.Error(w, `{"error":{"code":"malformed_json","message":"body must be {\"payload\": \"...\"}"}}`, http.StatusBadRequest)
				return "", false
			}
			text = in.Payload
		}
		return text, true
	}
	reply := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("POST /scan", func(w http.ResponseWriter, r *http.Request) {
		text, ok := read(w, r)
		if !ok {
			return
		}
		out, err := a.Scan(r.Context(), "http", text)
		if err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		reply(w, out)
	})
	mux.HandleFunc("POST /check", func(w http.ResponseWriter, r *http.Request) {
		text, ok := read(w, r)
		if !ok {
			return
		}
		reply(w, CheckReport(a.Check(text)))
	})
	mux.HandleFunc("POST /face", func(w http.ResponseWriter, r *http.Request) {
		p, ok := decodeProbe(w, r)
		if !ok {
			return
		}
		out, err := a.Face(r.Context(), p)
		var bad errProbe
		switch {
		case errors.As(err, &bad):
			httpError(w, http.StatusUnprocessableEntity, "invalid_probe", bad.Error())
			return
		case err != nil:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		reply(w, out)
	})
	mux.HandleFunc("POST /face/enrol", a.serveEnrol)
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		off, _, alarm := a.clock.report()
		reply(w, map[string]any{"online": a.online.Load(), "queue_depth": a.local.QueueDepth(), "clock_offset_ms": off.Milliseconds(), "clock_alarm": alarm})
	})
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
