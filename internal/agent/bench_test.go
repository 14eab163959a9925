package agent

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/credential"
	"gatepass/internal/gate"
	"gatepass/internal/gateapi"
)

// BenchmarkCommit is the disk part of a decision: one fsynced bbolt transaction with
// the event and, for a grant, its replay and passback entries.
func BenchmarkCommit(b *testing.B) {
	st, err := OpenLocalDB(filepath.Join(b.TempDir(), "agent.db"), false)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cred := uuid.New()
		dec := gate.Decision{Granted: true, Verified: true, Reason: gate.Granted, ReplayUntil: now.Add(time.Minute),
			Claims: credential.Claims{CredentialID: cred}}
		copy(dec.ReplayKey[1:], cred[:])
		ev := gateapi.Event{ID: uuid.Must(uuid.NewV7()), OccurredAt: now, GateID: cred, Method: "qr", Result: "granted", Reason: "ok", Credential: &cred}
		if err := st.Commit(ev, dec, now.Add(time.Minute), nil); err != nil {
			b.Fatal(err)
		}
	}
}
