package main

import (
	"errors"
	"net/http"

	"gatepass/internal/access"
	"gatepass/internal/consent"
	"gatepass/internal/httpx"
	"gatepass/internal/store"
)

// Every refusal a resident or a visitor can meet has its own stable code: the app shows
// its own words for the code in the reader's language, never the message (which stays
// English, for developers and logs). The store's sentinel errors are shared with the
// admin API, whose codes stay generic ("not_found", "conflict"); here they get the code
// the app explains.
var residentErrors = []struct {
	is  error
	out *httpx.Error
}{
	{store.ErrInviteUnusable, httpx.Errorf(http.StatusNotFound, "invite_unusable",
		"this invite code is wrong, used or expired: ask the property office for a new one")},
	{store.ErrCeremonyGone, httpx.Errorf(http.StatusUnprocessableEntity, "ceremony_expired",
		"the passkey step took too long or was already answered: start again")},
	{access.ErrLastPasskey, httpx.Errorf(http.StatusConflict, "last_passkey",
		"the last passkey that can sign in cannot be removed: add another first")},
	{store.ErrFaceOff, httpx.Errorf(http.StatusConflict, "face_off", "face entry is not offered in this community")},
	{store.ErrAlreadyConsented, httpx.Errorf(http.StatusConflict, "face_already_consented", "face-entry consent is already given")},
	{consent.ErrStaleNotice, httpx.Errorf(http.StatusConflict, "notice_changed",
		"the face-entry notice has changed: read the current one")},
	{consent.ErrGuardianRequired, httpx.Errorf(http.StatusForbidden, "guardian_required",
		"a child under 14 needs the consent of a guardian living in the same unit")},
}

var (
	// errAlreadyRevoked answers the store's conflict on revoking a device or a visitor
	// pass twice (two taps, two phones).
	errAlreadyRevoked = httpx.Errorf(http.StatusConflict, "already_revoked", "this was revoked already")
	// errVisitorLink: a visitor link that never existed or whose pass is gone.
	errVisitorLink = httpx.Errorf(http.StatusNotFound, "visitor_link_unknown",
		"this visitor link is not valid: ask your host for a new one")
)

// residentError gives err its stable code, if it has one.
func residentError(err error) error {
	for _, e := range residentErrors {
		if errors.Is(err, e.is) {
			return e.out
		}
	}
	return err
}
