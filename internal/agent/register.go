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

// Version is the agent's version, reported at registration and in heartbeats.
const Version = "0.1.0"

// Registration is this gate's identity with the server and its secrets, written to the
// state directory (0600) by Register. It is not face enrolment (enrol.go): that puts a
// resident's face on the gate, this puts the gate on the server.
//
// The wire, CLI and on-disk names still say "enroll" (POST /gate/v1/enroll,
// `gate-agent enroll`, enrollment.json, enrolled_at) so that deployed gates and scripts
// keep working; only the Go names changed.
type Registration struct {
	Server        string       `json:"server"`
	Token         string       `json:"gate_token"`
	Gate          gateapi.Gate `json:"gate"`
	BoxPrivateKey []byte       `json:"box_private_key"` // X25519: face templates are sealed to it
	RegisteredAt  time.Time    `json:"enrolled_at"`
}

const (
	registrationFile = "enrollment.json"
	localDBFile      = "agent.db"
	statusFile       = "status.json"
)

// Register redeems a one-time enrollment code at server and writes the Registration to
// dir. A directory that holds one already is refused: a second registration would
// orphan the first gate's token and box key.
func Register(ctx context.Context, server, code, dir string) (Registration, error) {
	var reg Registration
	if err := ensureDir(dir); err != nil {
		return reg, err
	}
	if _, err := os.Stat(filepath.Join(dir, registrationFile)); err == nil {
		return reg, fmt.Errorf("%s is enrolled already: use another --state or remove it", dir)
	}
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return reg, fmt.Errorf("box key: %w", err)
	}
	version := Version
	body, _ := json.Marshal(gateapi.EnrollRequest{Code: &code, BoxPublicKey: priv.PublicKey().Bytes(), AgentVersion: &version})
	server = strings.TrimRight(server, "/")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, server+"/gate/v1/enroll", bytes.NewReader(body))
	if err != nil {
		return reg, fmt.Errorf("enroll: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return reg, fmt.Errorf("enroll: %w", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusCreated {
		return reg, fmt.Errorf("enroll: server answered %d: %s", resp.StatusCode, bytes.TrimSpace(raw))
	}
	var out gateapi.EnrollResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		return reg, fmt.Errorf("enroll: %w", err)
	}
	reg = Registration{Server: server, Token: out.Token, Gate: out.Gate, BoxPrivateKey: priv.Bytes(), RegisteredAt: time.Now().UTC()}
	if err := writePrivate(filepath.Join(dir, registrationFile), reg); err != nil {
		return reg, err
	}
	// Make the local database now, so that status works before the first run.
	st, err := OpenLocalDB(filepath.Join(dir, localDBFile), false)
	if err != nil {
		return reg, err
	}
	return reg, st.Close()
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

// LoadRegistration reads dir's Registration.
func LoadRegistration(dir string) (Registration, error) {
	var reg Registration
	raw, err := os.ReadFile(filepath.Join(dir, registrationFile))
	if err != nil {
		return reg, fmt.Errorf("not enrolled (run gate-agent enroll): %w", err)
	}
	return reg, json.Unmarshal(raw, &reg)
}

// ensureDir makes the state directory private.
func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	return os.Chmod(dir, 0o700)
}
