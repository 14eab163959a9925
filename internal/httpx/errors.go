// Package httpx is the HTTP edge shared by server and mobile-api: one error format, strict
// JSON bodies, request ids, logs, metrics and panic recovery on Fiber.
package httpx

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"gatepass/internal/access"
)

// Error is an error with the status and machine-readable code the client sees.
type Error struct {
	Status  int
	Code    string
	Message string
	// Field names the offending input, when there is one.
	Field string
	// RetryAfter, in seconds, goes out as the Retry-After header when it is set.
	RetryAfter int
}

func (e *Error) Error() string { return e.Message }

// Errorf makes an Error.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldErr reports a problem with one input field.
func FieldErr(status int, code, field, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Field: field, Message: field + ": " + fmt.Sprintf(format, args...)}
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field,omitempty"`
	} `json:"error"`
}

// classify turns any error into what the client should see; ok is false for errors the
// client must not see the text of (they are logged and become a plain 500).
func classify(err error) (e *Error, ok bool) {
	var he *Error
	var fe *access.FieldError
	var fiberErr *fiber.Error
	switch {
	case errors.As(err, &he):
		return he, true
	case errors.As(err, &fe):
		return &Error{Status: http.StatusUnprocessableEntity, Code: "invalid_field", Field: fe.Field, Message: fe.Error()}, true
	case errors.As(err, &fiberErr):
		return &Error{Status: fiberErr.Code, Code: codeForStatus(fiberErr.Code), Message: fiberErr.Message}, true
	case errors.Is(err, access.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Code: "not_found", Message: "not found"}, true
	case errors.Is(err, access.ErrUnauthorized):
		return &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "missing or invalid credentials"}, true
	case errors.Is(err, access.ErrForbidden):
		return &Error{Status: http.StatusForbidden, Code: "forbidden", Message: "your role may not do this"}, true
	case errors.Is(err, access.ErrConflict):
		return &Error{Status: http.StatusConflict, Code: "conflict", Message: err.Error()}, true
	case errors.Is(err, access.ErrInvalid):
		return &Error{Status: http.StatusUnprocessableEntity, Code: "invalid", Message: err.Error()}, true
	case DatabaseUnavailable(err):
		return errUnavailable, true
	case isBusy(err):
		return errBusy, true
	}
	return &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error"}, false
}

func codeForStatus(status int) string {
	switch status {
	case http.StatusNotFound:
		return "not_found"
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusRequestEntityTooLarge:
		return "body_too_large"
	case http.StatusTooManyRequests:
		return "rate_limited"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusBadRequest:
		return "bad_request"
	case http.StatusUnsupportedMediaType:
		return "unsupported_media_type"
	}
	if status >= 500 {
		return "internal"
	}
	return "error"
}

// errorHandler writes every error as {"error": {"code", "message"}}.
func errorHandler(log *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		e, ok := classify(err)
		switch {
		case !ok:
			log.Error("request failed", "err", err, "method", c.Method(), "path", c.Path(), "request_id", requestID(c))
		case e == errUnavailable:
			// Expected while the database restarts; the cause is worth a line, not an alarm.
			log.Warn("database unavailable", "err", err, "method", c.Method(), "route", c.Route().Path, "request_id", requestID(c))
		}
		if e.RetryAfter > 0 {
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(e.RetryAfter))
		}
		var body errorBody
		body.Error.Code, body.Error.Message, body.Error.Field = e.Code, e.Message, e.Field
		return c.Status(e.Status).JSON(body)
	}
}
