package access

import "fmt"

// FieldError is a problem with one named input: missing, malformed, out of range, or
// naming something that does not exist. It matches ErrInvalid with errors.Is.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Is lets callers branch on ErrInvalid.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

// Invalid makes a FieldError.
func Invalid(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
