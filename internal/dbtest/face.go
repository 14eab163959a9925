package dbtest

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"gatepass/internal/consent"
	"gatepass/internal/store"
)

// FaceConsent does what a resident's phone does to enter by face, through the store: the
// community gets a face-entry operator, the resident consents to the current notice in
// lang, and a template sealed to gate (by the test, with the gate's box key) is stored.
func FaceConsent(t testing.TB, db *store.DB, c, resident, gate uuid.UUID, lang, model string, sealed []byte) {
	t.Helper()
	ctx := context.Background()
	notice, err := consent.Current(lang)
	if err != nil {
		t.Fatal(err)
	}
	err = db.InTx(ctx, "resident:"+resident.String(), func(tx *store.Tx) error {
		if err := tx.SetFaceOperator(ctx, c, consent.Operator{Name: "Demo Property Co.", Contact: "privacy@example.com"}); err != nil {
			return err
		}
		if _, err := tx.GiveConsent(ctx, store.GiveConsent{Community: c, Resident: resident, GivenBy: resident, NoticeVersion: notice.Version,
			NoticeLang: notice.Lang, NoticeHash: notice.Hash[:], Scope: consent.ScopeCommunity, Channel: "h5"}); err != nil {
			return err
		}
		_, err := tx.PutSealedTemplates(ctx, c, resident, []store.SealedTemplate{{Gate: gate, Model: model, Sealed: sealed}})
		return err
	})
	if err != nil {
		t.Fatalf("face consent and template: %v", err)
	}
}
