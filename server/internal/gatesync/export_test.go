package gatesync

// EnrollPerMinute is the enrollment rate limit, for the test that trips it.
const EnrollPerMinute = enrollPerMinute
