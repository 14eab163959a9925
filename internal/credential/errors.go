package credential

import "errors"

// Sentinel errors. Test with errors.Is: the values returned by this package
// wrap them with a detail (which byte region, which limit) that is meant for
// logs, not for branching.
var (
	// ErrMalformed: the text is not a well-formed token of a known type (bad
	// prefix, bad Base45, wrong length, trailing bytes, unknown type, field
	// value out of range). Nothing about it was verified.
	ErrMalformed = errors.New("credential: malformed token")
	// ErrUnknownKey: no trusted key has the token's kid, or the key with that
	// kid was not active when the token was signed, or it is retired and past
	// its publication window.
	ErrUnknownKey = errors.New("credential: unknown or unusable signing key")
	// ErrWrongCommunity: the kid belongs to a key of another community. Kids
	// are unique in a deployment, so this is a code from another estate (or a
	// misconfigured gate), worth telling apart from a forgery in the logs.
	ErrWrongCommunity = errors.New("credential: key belongs to another community")
	// ErrBadSignature: a signature (server or phone) does not verify.
	ErrBadSignature = errors.New("credential: bad signature")
	// ErrExpired: the token, certificate or device presentation is past its
	// window even allowing for the clock skew.
	ErrExpired = errors.New("credential: expired")
	// ErrNotYetValid: the token, certificate or device presentation starts
	// later than now plus the clock skew.
	ErrNotYetValid = errors.New("credential: not yet valid")
	// ErrLifetime: a mint function was asked for a validity window outside
	// the limits of its type.
	ErrLifetime = errors.New("credential: lifetime outside the limits of the type")
	// ErrInvalidClaims: a mint function was given claims it cannot encode
	// (unknown subject, nil credential id, a time before 1970 or after 2106,
	// a phone key that is not P-256 or does not match the certificate, a
	// signer without a valid private key).
	ErrInvalidClaims = errors.New("credential: invalid claims")
	// ErrWindowClosed: IssuedWindow was asked for a code that would start at or
	// after the end its credential may not outlive (a visitor pass that ended).
	ErrWindowClosed = errors.New("credential: no validity window left")

	// ErrUnknownType is an ErrMalformed (errors.Is matches both): the first
	// byte is not a type this version knows. The type byte doubles as the
	// format version, so a future format shows up as this error.
	ErrUnknownType error = &detailError{ErrMalformed, "unknown token type"}
)

// detailError adds a fixed detail to a sentinel. Every value used on the
// verify path is a package-level variable so that rejecting garbage, the
// common case under a flood of bad scans, allocates nothing either.
type detailError struct {
	kind error
	msg  string
}

func (e *detailError) Error() string { return e.kind.Error() + ": " + e.msg }
func (e *detailError) Unwrap() error { return e.kind }

var (
	errBadPrefix      = &detailError{ErrMalformed, `text does not start with "GA1:"`}
	errTooLong        = &detailError{ErrMalformed, "text longer than any token"}
	errBase45Length   = &detailError{ErrMalformed, "base45: one character left over"}
	errBase45Alphabet = &detailError{ErrMalformed, "base45: character outside the alphabet"}
	errBase45Overflow = &detailError{ErrMalformed, "base45: group value out of range"}
	errEmpty          = &detailError{ErrMalformed, "no token after the prefix"}
	errTruncated      = &detailError{ErrMalformed, "token shorter than its type requires"}
	errTrailing       = &detailError{ErrMalformed, "trailing bytes after the token"}
	errBadSubject     = &detailError{ErrMalformed, "unknown subject kind"}
	errBadWindow      = &detailError{ErrMalformed, "validity window outside the limits of the type"}
	errBadDeviceKey   = &detailError{ErrMalformed, "device key is not a compressed P-256 point"}

	errKeyNotFound   = &detailError{ErrUnknownKey, "no key with this kid"}
	errKeyBadPublic  = &detailError{ErrUnknownKey, "key has no valid Ed25519 public key"}
	errKeyNotActive  = &detailError{ErrUnknownKey, "key was not active at the token's not_before"}
	errKeyPublishEnd = &detailError{ErrUnknownKey, "key retired and past its publication window"}

	errServerSig = &detailError{ErrBadSignature, "server signature"}
	errPhoneSig  = &detailError{ErrBadSignature, "phone signature"}

	errExpired         = &detailError{ErrExpired, "token or certificate window"}
	errNotYetValid     = &detailError{ErrNotYetValid, "token or certificate window"}
	errPresentationOld = &detailError{ErrExpired, "device presentation counter too old"}
	errPresentationNew = &detailError{ErrNotYetValid, "device presentation counter in the future"}
)
