// Package agent is the gate-agent daemon: enrollment, the local bbolt store, the sync
// loop, the uploader, scanner inputs and door drivers around the pure decision of
// package gate. It talks to the server only through the gate API; it never touches the
// database.
package agent

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gatepass/internal/gateapi"
)

// Version is the agent's version, reported at enrollment and in heartbeats.
const Version = "0.1.0"

// Enrollment is what enroll writes to the state directory (0600): who this gate is and
// its secrets.
type Enrollment struct {
	Server        string       `json:"server"`
	Token         string       `json:"gate_token"`
	Gate          gateapi.Gate `json:"gate"`
	BoxPrivateKey []byte       `json:"box_private_key"` // X25519: face templates are sealed to it
	EnrolledAt    time.Time    `json:"enrolled_at"`
}

const (
	enrollmentFile = "enrollment.json"
	storeFile      = "agent.db"
	statusFile     = "status.json"
)

// Enroll redeems a one-time code at server and writes the enrollment to dir.
func Enroll(ctx context.Context, server, code, dir string) (Enrollment, error) {
	var en Enrollment
	if err := ensureDir(dir); err != nil {
		return en, err
	}
	if _, err := os.Stat(filepath.Join(dir, enrollmentFile)); err == nil {
		return en, fmt.Errorf("%s is enrolled already: use another --state or remove it", dir)
	}
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return en, fmt.Errorf("box key: %w", err)
	}
	version := Version
	body, _ := json.Marshal(gateapi.EnrollRequest{Code: &code, BoxPublicKey: priv.PublicKey().Bytes(), AgentVersion: &version})
	server = strings.TrimRight(server, "/")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, server+"/gate/v1/enroll", bytes.NewReader(body))
	if err != nil {
		return en, fmt.Errorf("enroll: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return en, fmt.Errorf("enroll: %w", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusCreated {
		return en, fmt.Errorf("enroll: server answered %d: %s", resp.StatusCode, bytes.TrimSpace(raw))
	}
	var out gateapi.EnrollResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		return en, fmt.Errorf("enroll: %w", err)
	}
	en = Enrollment{Server: server, Token: out.Token, Gate: out.Gate, BoxPrivateKey: priv.Bytes(), EnrolledAt: time.Now().UTC()}
	if err := writePrivate(filepath.Join(dir, enrollmentFile), en); err != nil {
		return en, err
	}
	// Make the store now, so that status works before the first run.
	st, err := OpenStore(filepath.Join(dir, storeFile), false)
	if err != nil {
		return en, err
	}
	return en, st.Close()
}

// writePrivate writes v as JSON to path with mode 0600, atomically.
func writePrivate(path string, v any) error {
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// LoadEnrollment reads dir's enrollment.
func LoadEnrollment(dir string) (Enrollment, error) {
	var en Enrollment
	raw, err := os.ReadFile(filepath.Join(dir, enrollmentFile))
	if err != nil {
		return en, fmt.Errorf("not enrolled (run gate-agent enroll): %w", err)
	}
	return en, json.Unmarshal(raw, &en)
}

// Status is what `gate-agent status` shows; the running agent writes it every few
// seconds (the store itself is locked while the agent runs).
type Status struct {
	Gate          gateapi.Gate `json:"gate"`
	Server        string       `json:"server"`
	Running       bool         `json:"running"`
	PID           int          `json:"pid"`
	UpdatedAt     time.Time    `json:"updated_at"`
	LastSyncAt    time.Time    `json:"last_sync_at"`
	Cursor        int64        `json:"cursor"`
	Online        bool         `json:"online"`
	QueueDepth    int          `json:"queue_depth"`
	Revocations   int          `json:"revocations"`
	ClockOffsetMS int64        `json:"clock_offset_ms"`
	LocalHTTP     string       `json:"local_http,omitempty"`
}

// ReadStatus reads dir's status; when no agent runs it is rebuilt from the store.
func ReadStatus(dir string) (Status, error) {
	en, err := LoadEnrollment(dir)
	if err != nil {
		return Status{}, err
	}
	st, err := OpenStore(filepath.Join(dir, storeFile), true)
	if err == nil {
		defer st.Close()
		c, _ := st.Cursor()
		return Status{Gate: en.Gate, Server: en.Server, LastSyncAt: st.SyncedAt(), Cursor: c, QueueDepth: st.QueueDepth(), Revocations: st.RevocationCount()}, nil
	}
	var s Status
	raw, rerr := os.ReadFile(filepath.Join(dir, statusFile))
	if rerr != nil {
		return s, fmt.Errorf("%w; and no status file: %v", err, rerr)
	}
	return s, json.Unmarshal(raw, &s)
}
