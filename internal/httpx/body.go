package httpx

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"gatepass/internal/access"
)

// DecodeJSON reads the request body into v strictly: one JSON object of content type
// application/json, valid UTF-8, member names matched exactly (not case-folded), no
// unknown or repeated members and nothing after it. encoding/json accepts all of those
// (last duplicate wins, "Name" fills "name"), so two parsers could read one body two
// ways; go-json-experiment/json refuses them. Field checks come after, with a Checker.
func DecodeJSON(c *fiber.Ctx, v any) error {
	body := c.BodyRaw() // never decompressed: see refuseEncodedBodies
	if len(bytes.TrimSpace(body)) == 0 {
		return Errorf(http.StatusBadRequest, "malformed_json", "request body must be a JSON object")
	}
	if mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType)); err != nil || mt != fiber.MIMEApplicationJSON {
		return Errorf(http.StatusUnsupportedMediaType, "unsupported_media_type", "content type must be application/json")
	}
	if err := jsonv2.Unmarshal(body, v, jsonv2.RejectUnknownMembers(true)); err != nil {
		return jsonError(err)
	}
	return nil
}

// jsonError turns a decoding error into the API's error, naming the field as a dotted
// path ("inner.x") the way the Checker does.
func jsonError(err error) error {
	var sem *jsonv2.SemanticError
	var syn *jsontext.SyntacticError
	switch {
	case errors.As(err, &syn):
		field := pointerField(syn.JSONPointer)
		switch {
		case errors.Is(syn.Err, jsontext.ErrDuplicateName):
			return FieldErr(http.StatusBadRequest, "duplicate_field", field, "appears more than once")
		case syn.Err != nil && strings.Contains(syn.Err.Error(), "invalid UTF-8"): // the package exports no sentinel for it
			return FieldErr(http.StatusBadRequest, "invalid_utf8", field, "must be UTF-8 text")
		}
		return Errorf(http.StatusBadRequest, "malformed_json", "malformed JSON at byte %d", syn.ByteOffset)
	case errors.As(err, &sem):
		field := pointerField(sem.JSONPointer)
		switch {
		case errors.Is(sem.Err, jsonv2.ErrUnknownName):
			return FieldErr(http.StatusBadRequest, "unknown_field", field, "is not a known field")
		case field == "":
			return Errorf(http.StatusBadRequest, "malformed_json", "request body must be a JSON object")
		case sem.GoType != nil:
			return FieldErr(http.StatusBadRequest, "wrong_type", field, "must be %s", typeName(sem.GoType))
		}
		return FieldErr(http.StatusBadRequest, "wrong_type", field, "has the wrong type")
	}
	return Errorf(http.StatusBadRequest, "malformed_json", "malformed JSON")
}

func pointerField(p jsontext.Pointer) string {
	return strings.Join(slices.Collect(p.Tokens()), ".")
}

// typeName says what a field must be in words a client's developer knows.
func typeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number in range"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return t.String()
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
	case strings.ContainsFunc(v, isControl):
		k.fail(field, "must not contain control characters")
	}
	return v
}

// isControl reports C0 controls, DEL and the bidirectional formatting characters: a
// right-to-left override in a name makes "lla0912" show as "2190all" on a guard's screen.
func isControl(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) ||
		r == 0x200e || r == 0x200f || r == 0x061c || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
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
		if len(c.BodyRaw()) > n {
			return Errorf(http.StatusRequestEntityTooLarge, "body_too_large", "request body is over %d bytes", n)
		}
		return c.Next()
	}
}

// SendFile answers the file name of files (an embedded web app) with its content type
// (extra names types mime does not know, by extension) and the given Cache-Control; a
// name that is not a valid path in files, or no file, is a 404.
func SendFile(c *fiber.Ctx, files fs.FS, name, cache string, extra map[string]string) error {
	if !fs.ValidPath(name) {
		return access.ErrNotFound
	}
	data, err := fs.ReadFile(files, name)
	if err != nil {
		return access.ErrNotFound
	}
	ct := extra[path.Ext(name)]
	if ct == "" {
		ct = mime.TypeByExtension(path.Ext(name))
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	c.Set(fiber.HeaderContentType, ct)
	c.Set(fiber.HeaderCacheControl, cache)
	return c.Send(data)
}
