package gatesync

// EnrollPerMinute is the enrollment rate limit, for the test that trips it.
const EnrollPerMinute = enrollPerMinute

// Waiting is the number of long polls held.
func (g *API) Waiting() int { return g.changes().Waiting() }

// WokenTurns is how many woken polls hold a turn (woken): none once their answers are
// written.
func (g *API) WokenTurns() int { return len(g.woken) }

// WokenAtOnce is how many woken polls work at once.
const WokenAtOnce = wokenAtOnce
