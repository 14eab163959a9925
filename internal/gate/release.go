package gate

import "time"

// ReleaseMaxAge is how old a staff manual release may be when it reaches the gate and
// still open the door: a guard who pressed "unlock" a minute ago is no longer watching,
// and a release delivered late (after an outage) must not open an unwatched door.
// gateapi.ReleaseMaxAge publishes the same limit on the wire; a test keeps them equal.
const ReleaseMaxAge = 60 * time.Second

// DecideRelease judges a manual release created at created, on the server's clock at
// both ends (serverNow is the server's time when it handed the release over): the
// gate's own clock may be off, and an age taken across two clocks would carry the error.
func DecideRelease(created, serverNow time.Time) Decision {
	if serverNow.Sub(created) > ReleaseMaxAge {
		return Decision{Reason: ReleaseExpired}
	}
	return Decision{Granted: true, Reason: ManualRelease}
}
