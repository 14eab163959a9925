package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"gatepass/internal/access"
)

// DecodeJSON reads the request body into v strictly: it must be one JSON object, with no
// unknown fields and nothing after it. Field checks come after, with a Checker.
func DecodeJSON(c *fiber.Ctx, v any) error {
	body := c.Body()
	if len(bytes.TrimSpace(body)) == 0 {
		return Errorf(http.StatusBadRequest, "malformed_json", "request body must be a JSON object")
	}
	if ct := c.Get(fiber.HeaderContentType); ct != "" && !strings.HasPrefix(ct, fiber.MIMEApplicationJSON) {
		return Errorf(http.StatusUnsupportedMediaType, "unsupported_media_type", "content type must be application/json")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Errorf(http.StatusBadRequest, "malformed_json", "unexpected data after the JSON object")
	}
	return nil
}

func jsonError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return Errorf(http.StatusBadRequest, "malformed_json", "request body must be a JSON object")
		}
		return FieldErr(http.StatusBadRequest, "wrong_type", field, "must be %s", typeErr.Type.String())
	case errors.As(err, &syntaxErr):
		return Errorf(http.StatusBadRequest, "malformed_json", "malformed JSON at byte %d", syntaxErr.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return FieldErr(http.StatusBadRequest, "unknown_field", field, "is not a known field")
	}
	return Errorf(http.StatusBadRequest, "malformed_json", "malformed JSON: %v", err)
}

// Checker collects the first problem with the fields of a request; its methods return
// the parsed value so a handler reads top to bottom.
type Checker struct {
	err error
}

// Err is the first problem found, or nil.
func (k *Checker) Err() error { return k.err }

func (k *Checker) fail(field, format string, args ...any) {
	if k.err == nil {
		k.err = access.Invalid(field, format, args...)
	}
}

// Text checks a required string of min..max characters, without control characters.
func (k *Checker) Text(field string, s *string, min, max int) string {
	if s == nil {
		if min > 0 {
			k.fail(field, "is required")
		}
		return ""
	}
	v := strings.TrimSpace(*s)
	n := utf8.RuneCountInString(v)
	switch {
	case !utf8.ValidString(v):
		k.fail(field, "must be UTF-8 text")
	case n < min && n == 0:
		k.fail(field, "is required")
	case n < min:
		k.fail(field, "must be at least %d characters", min)
	case n > max:
		k.fail(field, "must be at most %d characters", max)
	case strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		k.fail(field, "must not contain control characters")
	}
	return v
}

// OneOf checks a required string against the allowed values.
func (k *Checker) OneOf(field string, s *string, allowed []string) string {
	if s == nil {
		k.fail(field, "is required")
		return ""
	}
	if !slices.Contains(allowed, *s) {
		k.fail(field, "must be one of %s", strings.Join(allowed, ", "))
	}
	return *s
}

// UUID checks a required UUID in canonical form.
func (k *Checker) UUID(field string, s *string) uuid.UUID {
	if s == nil {
		k.fail(field, "is required")
		return uuid.Nil
	}
	id, err := ParseUUID(*s)
	if err != nil {
		k.fail(field, "must be a UUID")
	}
	return id
}

// Int checks a required integer in min..max.
func (k *Checker) Int(field string, v *int, min, max int) int {
	if v == nil {
		k.fail(field, "is required")
		return 0
	}
	if *v < min || *v > max {
		k.fail(field, "must be between %d and %d", min, max)
	}
	return *v
}

// ParseUUID accepts only the canonical 36-character form.
func ParseUUID(s string) (uuid.UUID, error) {
	if len(s) != 36 {
		return uuid.Nil, fmt.Errorf("not a UUID")
	}
	return uuid.Parse(s)
}

// PathUUID reads a UUID path parameter; a malformed one is a 404, like any unknown path.
func PathUUID(c *fiber.Ctx, name string) (uuid.UUID, error) {
	id, err := ParseUUID(c.Params(name))
	if err != nil {
		return uuid.Nil, Errorf(http.StatusNotFound, "not_found", "%s: no such %s", c.Params(name), name)
	}
	return id, nil
}

// LimitBody refuses requests whose body is over n bytes with a JSON 413. The server-wide
// limit must be the largest any route needs (gate event batches); routes that need less
// take this, so a big body is refused before any work is done.
func LimitBody(n int) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if len(c.Body()) > n {
			return Errorf(http.StatusRequestEntityTooLarge, "body_too_large", "request body is over %d bytes", n)
		}
		return c.Next()
	}
}
