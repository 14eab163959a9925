package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"gatepass/internal/audit"
	"gatepass/internal/dbtest"
	"gatepass/internal/store"
)

// superuser runs statements as the database owner would, going around the triggers.
func superuser(t *testing.T, db *store.DB, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if _, err := db.SQL().Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestAuditTamperingIsCaught is the security review's three rewrites: the newest rows
// deleted, the table truncated, and a row rewritten with the chain recomputed.
func TestAuditTamperingIsCaught(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t)
	sealer := dbtest.Sealer(t)
	var c uuid.UUID
	err := db.InTx(ctx, "cli", func(tx *store.Tx) error {
		info, err := tx.CreateCommunity(ctx, "审计小区 "+uuid.NewString()[:8], sealer)
		c = info.ID
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if err := db.InTx(ctx, "staff:test", func(tx *store.Tx) error {
			return tx.Audit(ctx, c, "test.action", fmt.Sprintf("thing:%d", i), map[string]int{"n": i})
		}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.VerifyAudit(ctx); err != nil {
		t.Fatalf("untouched: %v", err)
	}
	var seqs []int64
	rows, err := db.SQL().Query(`SELECT seq FROM audit_log WHERE community_id = $1 ORDER BY seq`, c)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s int64
		rows.Scan(&s)
		seqs = append(seqs, s)
	}
	rows.Close()
	if len(seqs) != 5 { // community.create and the four above
		t.Fatalf("rows %v", seqs)
	}
	where := fmt.Sprintf("community_id = '%s'", c)
	// Both tables as they are, to put back after each tampering. Not TEMP tables: those
	// belong to one connection of the pool.
	save := []string{`CREATE TABLE saved_log AS SELECT * FROM audit_log`, `CREATE TABLE saved_heads AS SELECT * FROM audit_heads`}
	t.Cleanup(func() { db.SQL().Exec(`DROP TABLE IF EXISTS saved_log, saved_heads`) })
	restore := []string{`ALTER TABLE audit_log DISABLE TRIGGER USER`, `ALTER TABLE audit_heads DISABLE TRIGGER USER`,
		`DELETE FROM audit_log`, `DELETE FROM audit_heads`,
		`INSERT INTO audit_log SELECT * FROM saved_log`, `INSERT INTO audit_heads SELECT * FROM saved_heads`,
		`ALTER TABLE audit_log ENABLE TRIGGER USER`, `ALTER TABLE audit_heads ENABLE TRIGGER USER`}
	superuser(t, db, save...)

	// The program's own path refuses all three.
	for _, q := range []string{`DELETE FROM audit_log WHERE ` + where, `TRUNCATE audit_log`, `UPDATE audit_log SET actor = 'x' WHERE ` + where,
		`DELETE FROM audit_heads WHERE ` + where, `TRUNCATE audit_heads`, `UPDATE audit_heads SET seq = seq - 1 WHERE ` + where} {
		if _, err := db.SQL().Exec(q); err == nil {
			t.Errorf("%s: accepted; want the trigger's refusal", q)
		}
	}

	wrongKey := bytes.Repeat([]byte{1}, 32)
	cases := []struct {
		name   string
		tamper []string
		forge  bool   // rewrite every row from the second on, chain recomputed with a key not ours
		want   string // in the error
	}{
		{"newest rows deleted", []string{`ALTER TABLE audit_log DISABLE TRIGGER USER`,
			fmt.Sprintf(`DELETE FROM audit_log WHERE %s AND seq > %d`, where, seqs[2]), `ALTER TABLE audit_log ENABLE TRIGGER USER`},
			false, fmt.Sprintf("entries after seq %d up to seq %d are missing", seqs[2], seqs[4])},
		{"truncated", []string{`ALTER TABLE audit_log DISABLE TRIGGER USER`, `TRUNCATE audit_log`, `ALTER TABLE audit_log ENABLE TRIGGER USER`},
			false, "every entry up to seq"},
		{"rewritten with the chain recomputed", nil, true, fmt.Sprintf("seq %d: content does not match its hash", seqs[1])},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			superuser(t, db, tc.tamper...)
			if tc.forge {
				forge(t, db, c, wrongKey)
			}
			_, err := db.VerifyAudit(ctx)
			if !errors.Is(err, audit.ErrBroken) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), c.String()) && tc.name != "truncated" {
				t.Errorf("verify: %v; want ErrBroken with %q", err, tc.want)
			}
			superuser(t, db, restore...)
			if _, err := db.VerifyAudit(ctx); err != nil {
				t.Fatalf("after restoring: %v", err)
			}
		})
	}
}

// forge rewrites community c's rows after the first with a new actor, recomputing the
// chain and the head with key, as someone with the database but not the master key can.
func forge(t *testing.T, db *store.DB, c uuid.UUID, key []byte) {
	t.Helper()
	rows, err := db.SQL().Query(`SELECT seq, at, actor, action, target, convert_to(summary::text, 'UTF8'), version, prev_hash, hash
		FROM audit_log WHERE community_id = $1 ORDER BY seq`, c)
	if err != nil {
		t.Fatal(err)
	}
	var es []audit.Entry
	for rows.Next() {
		e := audit.Entry{Community: c}
		if err := rows.Scan(&e.Seq, &e.At, &e.Actor, &e.Action, &e.Target, &e.Summary, &e.Version, &e.PrevHash, &e.Hash); err != nil {
			t.Fatal(err)
		}
		es = append(es, e)
	}
	rows.Close()
	superuser(t, db, `ALTER TABLE audit_log DISABLE TRIGGER USER`, `ALTER TABLE audit_heads DISABLE TRIGGER USER`)
	prev := es[0].Hash
	for i := 1; i < len(es); i++ {
		es[i].Actor = "staff:nobody"
		es[i].Seal(key, prev)
		prev = es[i].Hash
		if _, err := db.SQL().Exec(`UPDATE audit_log SET actor = $1, prev_hash = $2, hash = $3 WHERE community_id = $4 AND seq = $5`,
			es[i].Actor, es[i].PrevHash, es[i].Hash, c, es[i].Seq); err != nil {
			t.Fatal(err)
		}
	}
	h := audit.NewHead(key, &es[len(es)-1])
	if _, err := db.SQL().Exec(`UPDATE audit_heads SET hash = $1, mac = $2 WHERE community_id = $3`, h.Hash, h.MAC, c); err != nil {
		t.Fatal(err)
	}
	superuser(t, db, `ALTER TABLE audit_log ENABLE TRIGGER USER`, `ALTER TABLE audit_heads ENABLE TRIGGER USER`)
}
