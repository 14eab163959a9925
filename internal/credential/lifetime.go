package credential

import "time"

// The lifetimes gatepass gives what it issues, inside the format's limits (token.go).

// IssuedLifetime is how long a rotating QR code (type 0x01) is valid. Short, so a
// screenshot or a forwarded code is soon useless; long enough for a slow scanner.
const IssuedLifetime = 60 * time.Second

// RefreshMargin is how long before expiry the phone fetches the next code, so the code
// on screen always has this much life left for the gate's clock and the scan.
const RefreshMargin = 25 * time.Second

// DeviceLifetime is how long a device certificate lasts: the format's maximum, after
// which the app re-certifies its key with a fresh step-up.
const DeviceLifetime = MaxDeviceCertLifetime

// Validity is when a credential works: its not_before and expiry, whole seconds.
type Validity struct {
	NotBefore, ExpiresAt time.Time
}

// Window is an issued code's validity and when the phone should ask for the next.
type Window struct {
	Validity
	RefreshAfter time.Time
}

// IssuedWindow is the window of a code minted at now that must not outlive until (a
// visitor pass's end; zero for none). Codes are at least the format's minimum lifetime:
// near the end of a visitor pass the window slides back rather than past the pass's end.
// Past until it is ErrWindowClosed.
func IssuedWindow(now, until time.Time) (Window, error) {
	nb := now.Truncate(time.Second)
	exp := nb.Add(IssuedLifetime)
	if !until.IsZero() {
		until = until.Truncate(time.Second)
		if !until.After(nb) {
			return Window{}, ErrWindowClosed
		}
		if exp.After(until) {
			exp = until
		}
		if exp.Sub(nb) < MinIssuedLifetime {
			nb = exp.Add(-MinIssuedLifetime)
		}
	}
	refresh := exp.Add(-RefreshMargin)
	if refresh.Before(now) {
		refresh = now
	}
	return Window{Validity: Validity{NotBefore: nb, ExpiresAt: exp}, RefreshAfter: refresh}, nil
}

// DeviceValidity is the validity of a device certificate made at now.
func DeviceValidity(now time.Time) Validity {
	nb := now.Truncate(time.Second)
	return Validity{NotBefore: nb, ExpiresAt: nb.Add(DeviceLifetime)}
}

// CardValidity is the validity of a printed card made at now to last valid (staff choose
// it, within MaxCardLifetime).
func CardValidity(now time.Time, valid time.Duration) Validity {
	nb := now.Truncate(time.Second)
	return Validity{NotBefore: nb, ExpiresAt: nb.Add(valid)}
}
