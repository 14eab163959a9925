package main

import (
	"errors"
	"net/http"

	"gatepass/internal/access"
	"gatepass/internal/consent"
	"gatepass/internal/httpx"
	"gatepass/internal/store"
	"gatepass/internal/wechat"
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
	// WeChat sign-in (wechat.go): each of WeChat's refusals, so the mini-program can say
	// what to do. ErrUnavailable matches only errcodes without a sentinel of their own.
	{wechat.ErrInvalidCode, httpx.Errorf(http.StatusUnauthorized, "wechat_code_invalid",
		"WeChat did not accept this login code (invalid, or older than 5 minutes): log in again")},
	{wechat.ErrCodeUsed, httpx.Errorf(http.StatusUnauthorized, "wechat_code_used",
		"this WeChat login code was already used: log in again for a new one")},
	{wechat.ErrRateLimited, &httpx.Error{Status: http.StatusTooManyRequests, Code: "wechat_rate_limited", RetryAfter: 60,
		Message: "WeChat refuses logins for a minute (too many): try again in a minute"}},
	{wechat.ErrRiskyUser, httpx.Errorf(http.StatusForbidden, "wechat_risky_user",
		"WeChat blocked this login because it rates the account as high risk: use the passkey web app, or ask the property office")},
	{wechat.ErrBusy, &httpx.Error{Status: http.StatusServiceUnavailable, Code: "wechat_busy", RetryAfter: 5,
		Message: "WeChat is busy: try again in a few seconds"}},
	{wechat.ErrUnavailable, httpx.Errorf(http.StatusBadGateway, "wechat_unavailable",
		"the WeChat login service did not answer usably: try again later")},
	{store.ErrWeChatNotBound, httpx.Errorf(http.StatusNotFound, "wechat_not_bound",
		"this WeChat account is not bound to a resident here: bind it with your invite code")},
	{store.ErrWeChatBoundElsewhere, httpx.Errorf(http.StatusConflict, "wechat_bound_elsewhere",
		"this WeChat account is bound to another resident of this community, who must unbind it first")},
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
