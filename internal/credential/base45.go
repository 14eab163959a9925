package credential

// Base45 (RFC 9285) is implemented here rather than imported because the
// decoder sits on the gate's hot path: it must write into a caller-owned
// fixed-size array (no allocation) and must be strict, so that every token has
// exactly one text form and the fuzz round-trip property can hold.

const base45Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

// base45Value maps a byte to its digit value, or 0xff for bytes outside the
// alphabet (lower case included: RFC 9285 has no case folding).
var base45Value = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i := 0; i < len(base45Alphabet); i++ {
		t[base45Alphabet[i]] = byte(i)
	}
	return t
}()

// base45EncodedLen is the text length of n bytes.
func base45EncodedLen(n int) int { return n/2*3 + n%2*2 }

// base45DecodedLen is the byte length of a text of n characters, or -1 when no
// byte string encodes to that length (one character left over).
func base45DecodedLen(n int) int {
	if n%3 == 1 {
		return -1
	}
	return n/3*2 + n%3/2
}

// appendBase45 appends the Base45 text of src to dst.
func appendBase45(dst, src []byte) []byte {
	for len(src) >= 2 {
		n := uint(src[0])<<8 | uint(src[1])
		dst = append(dst, base45Alphabet[n%45], base45Alphabet[n/45%45], base45Alphabet[n/2025])
		src = src[2:]
	}
	if len(src) == 1 {
		n := uint(src[0])
		dst = append(dst, base45Alphabet[n%45], base45Alphabet[n/45])
	}
	return dst
}

// decodeBase45 decodes s into dst and returns the number of bytes written.
// dst must hold base45DecodedLen(len(s)) bytes; the caller checks that, so a
// short dst is a programming error reported as errBase45Length rather than a
// panic. Overflowing groups ("GGW" = 65536) are rejected: they are the only
// way two texts could decode to the same bytes.
func decodeBase45(dst []byte, s string) (int, error) {
	want := base45DecodedLen(len(s))
	if want < 0 || want > len(dst) {
		return 0, errBase45Length
	}
	n := 0
	for len(s) >= 3 {
		c, d, e := base45Value[s[0]], base45Value[s[1]], base45Value[s[2]]
		if c >= 45 || d >= 45 || e >= 45 {
			return 0, errBase45Alphabet
		}
		v := uint(c) + uint(d)*45 + uint(e)*2025
		if v > 0xffff {
			return 0, errBase45Overflow
		}
		dst[n], dst[n+1] = byte(v>>8), byte(v)
		n += 2
		s = s[3:]
	}
	if len(s) == 2 {
		c, d := base45Value[s[0]], base45Value[s[1]]
		if c >= 45 || d >= 45 {
			return 0, errBase45Alphabet
		}
		v := uint(c) + uint(d)*45
		if v > 0xff {
			return 0, errBase45Overflow
		}
		dst[n] = byte(v)
		n++
	}
	return n, nil
}
