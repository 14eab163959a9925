// Package credential defines the gate credentials (GA1 tokens): their
// binary layout, the strict Base45 text form shown as a QR code, minting
// by the server and the phone, and verification at the gate.
//
// The format is specified in docs/credential-format.md, with test vectors
// that this package's tests check in both directions. The package does no
// I/O, keeps no state, and its verify path allocates nothing of its own,
// because the gate runs it on every scan, including floods of garbage.
// Revocation, zones at a given gate and replay are the gate's access layer.
package credential
