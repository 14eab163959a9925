package gatesync

// EnrollPerMinute is the enrollment rate limit, for the test that trips it.
const EnrollPerMinute = enrollPerMinute

// Waiting is the number of long polls held.
func (g *API) Waiting() int { return g.changes().Waiting() }
