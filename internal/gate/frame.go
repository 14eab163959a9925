package gate

import "errors"

// One text, one decision, on every channel: stdin, serial, TCP, HTTP and `gate-agent
// check` all turn what they read into the text the gate decides with Frame, so that the
// same bytes get the same answer everywhere. Before, HTTP read 4097 bytes, ignored the
// rest and trimmed spaces: a genuine code padded with spaces and followed by 850 KB of
// junk opened the door, which TCP and check refused.

// MaxFrame is the most bytes an input reads for one text: MaxInput, a CR LF line ending,
// and one byte more to see that the cap was passed. Nothing past it is ever read for a
// decision (a line input skips the rest of a long line to find the next one).
const MaxFrame = MaxInput + 3

// ErrEmpty means there was nothing to decide: a blank line, an empty body. It makes no
// decision and no event on any channel.
var ErrEmpty = errors.New("empty input")

// Frame is the framing rule of every input. raw is one input as read (a line with its
// line ending, an HTTP body or payload, a check argument), at most MaxFrame bytes; cut
// says the input went on past raw. Exactly one trailing line ending ("\r\n", "\n" or
// "\r") is stripped and nothing else: spaces, a second CR, NUL or any other byte stay
// and make the text malformed, as the strict parser decides. Over MaxInput (or cut) is
// ErrOversize, for Refusal; nothing is ErrEmpty.
func Frame(raw []byte, cut bool) (string, error) {
	if cut {
		return "", ErrOversize
	}
	switch n := len(raw); {
	case n >= 2 && raw[n-2] == '\r' && raw[n-1] == '\n':
		raw = raw[:n-2]
	case n >= 1 && (raw[n-1] == '\n' || raw[n-1] == '\r'):
		raw = raw[:n-1]
	}
	switch {
	case len(raw) > MaxInput:
		return "", ErrOversize
	case len(raw) == 0:
		return "", ErrEmpty
	}
	return string(raw), nil
}

// Refusal is the decision on an input Frame refused (other than ErrEmpty): malformed,
// with the reason in Detail, decided like any other text so that it is recorded.
func Refusal(err error) Decision {
	return Decision{Reason: Malformed, Detail: err}
}
