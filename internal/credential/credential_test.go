package credential

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestRoundTrip(t *testing.T) {
	s := vectorSigner(t)
	phone := newPhone(t)
	v := vectorVerifier(t)
	present := t0.Add(10 * time.Second)
	var wantKey [DeviceKeySize]byte
	if err := compressP256(&wantKey, &phone.PublicKey); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		text    string
		in      Claims
		typ     Type
		textLen int
	}{
		{"issued", mustMint(t, MintIssued, s, issuedClaims()), issuedClaims(), TypeIssued, 169},
		{"card", mustMint(t, MintCard, s, cardClaims()), cardClaims(), TypeCard, 169},
		{"device", mustDevice(t, s, deviceClaims(), phone, present), deviceClaims(), TypeDevice, MaxTextLen},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.text) != tc.textLen || !strings.HasPrefix(tc.text, Prefix) {
				t.Fatalf("text %q: length %d, want %d", tc.text, len(tc.text), tc.textLen)
			}
			got, err := v.Verify(tc.text, present)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.in
			want.Type, want.KID = tc.typ, s.KID
			if tc.typ == TypeDevice {
				want.DeviceKey = wantKey
				want.Counter = uint32(present.Unix() / 30)
			}
			if got != want {
				t.Fatalf("claims\n got %+v\nwant %+v", got, want)
			}
			tok, err := Parse(tc.text)
			if err != nil || tok.Claims != got {
				t.Fatalf("Parse = %+v, %v", tok.Claims, err)
			}
			if re := tok.Text(); re != tc.text {
				t.Fatalf("re-encoded\n%s\nwant\n%s", re, tc.text)
			}
		})
	}
}

func TestMintFillsNonce(t *testing.T) {
	s := vectorSigner(t)
	c := issuedClaims()
	c.Nonce = 0
	a, b := mustMint(t, MintIssued, s, c), mustMint(t, MintIssued, s, c)
	ta, _ := Parse(a)
	tb, _ := Parse(b)
	if ta.Nonce == 0 || ta.Nonce == tb.Nonce {
		t.Fatalf("nonces %x %x: want distinct, non-zero", ta.Nonce, tb.Nonce)
	}
	if ta.ReplayKey() == tb.ReplayKey() {
		t.Fatal("two issued tokens share a replay key")
	}
}

// TestTamper flips bits in every byte of every region of every type and
// checks that the change is caught, by the check the region belongs to.
func TestTamper(t *testing.T) {
	s := vectorSigner(t)
	phone := vectorPhone(t)
	v := vectorVerifier(t)
	at := t0.Add(10 * time.Second)
	texts := map[Type]string{
		TypeIssued: mustMint(t, MintIssued, s, issuedClaims()),
		TypeCard:   mustMint(t, MintCard, s, cardClaims()),
		TypeDevice: mustDevice(t, s, deviceClaims(), phone, at),
	}
	sig := []error{ErrBadSignature}
	// Some flips also break a structural rule (a window limit, a subject
	// kind, the key's prefix byte) and are caught as malformed first.
	mayBeMalformed := []error{ErrBadSignature, ErrMalformed}
	common := []struct {
		name     string
		from, to int
		mask     byte
		want     []error
	}{
		{"kid", offKID, offCredID, 0x01, []error{ErrUnknownKey}},
		{"credential id", offCredID, offSubject, 0x01, sig},
		{"subject", offSubject, offZones, 0x03, mayBeMalformed}, // 1<->2 is signed; 3^3 and ^0x80 are unknown kinds
		{"zones", offZones, offNBF, 0x80, sig},
		{"not_before", offNBF, offExp, 0x01, mayBeMalformed},
		{"expires_at", offExp, headerLen, 0x01, mayBeMalformed},
	}
	regions := map[Type][]struct {
		name     string
		from, to int
		mask     byte
		want     []error
	}{
		TypeIssued: append(common[:len(common):len(common)], []struct {
			name     string
			from, to int
			mask     byte
			want     []error
		}{
			{"nonce", offNonce, offSig, 0x01, sig},
			{"signature", offSig, simpleLen, 0x01, sig},
		}...),
		TypeDevice: append(common[:len(common):len(common)], []struct {
			name     string
			from, to int
			mask     byte
			want     []error
		}{
			{"device key", offDeviceKey, certBody, 0x01, mayBeMalformed}, // 0x02^0x80 is no SEC 1 prefix
			{"certificate signature", offCertSig, certLen, 0x01, sig},
			{"counter", offCounter, presBody, 0x01, sig},
			{"phone signature", offPhoneSig, deviceLen, 0x01, sig},
		}...),
	}
	regions[TypeCard] = regions[TypeIssued]
	for typ, text := range texts {
		if _, err := v.Verify(text, at); err != nil {
			t.Fatalf("%s: untampered token fails: %v", typ, err)
		}
		raw := rawOf(t, text)
		covered := 1 // the type byte, tested in TestRelabel
		for _, r := range regions[typ] {
			covered += r.to - r.from
			for i := r.from; i < r.to; i++ {
				for _, mask := range []byte{r.mask, 0x80} {
					b := append([]byte(nil), raw...)
					b[i] ^= mask
					_, err := v.Verify(textOf(b), at)
					if !isAny(err, r.want) {
						t.Errorf("%s %s byte %d ^%#x: err = %v, want one of %v", typ, r.name, i, mask, err, r.want)
					}
				}
			}
		}
		if covered != len(raw) {
			t.Errorf("%s: regions cover %d of %d bytes", typ, covered, len(raw))
		}
	}
}

func isAny(err error, targets []error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

// TestRelabel: the type byte is signed and each type has its own label, so
// one type's bytes never pass as another's.
func TestRelabel(t *testing.T) {
	s := vectorSigner(t)
	v := vectorVerifier(t)
	short := cardClaims()
	short.ExpiresAt = short.NotBefore.Add(time.Minute) // so the window fits an issued token too
	for _, tc := range []struct {
		name string
		text string
		to   Type
		want error
	}{
		{"issued as card", mustMint(t, MintIssued, s, issuedClaims()), TypeCard, ErrBadSignature},
		{"card as issued", mustMint(t, MintCard, s, short), TypeIssued, ErrBadSignature},
		{"issued as device", mustMint(t, MintIssued, s, issuedClaims()), TypeDevice, ErrMalformed},
		{"device as card", mustDevice(t, s, deviceClaims(), newPhone(t), t0), TypeCard, ErrMalformed},
		{"unknown type 0x00", mustMint(t, MintIssued, s, issuedClaims()), 0x00, ErrUnknownType},
		{"unknown type 0x04", mustMint(t, MintIssued, s, issuedClaims()), 0x04, ErrUnknownType},
		{"unknown type 0xff", mustMint(t, MintIssued, s, issuedClaims()), 0xff, ErrUnknownType},
	} {
		raw := rawOf(t, tc.text)
		raw[offType] = byte(tc.to)
		_, err := v.Verify(textOf(raw), t0)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	if !errors.Is(ErrUnknownType, ErrMalformed) {
		t.Error("ErrUnknownType is not an ErrMalformed")
	}
}

func TestMalformed(t *testing.T) {
	s := vectorSigner(t)
	v := vectorVerifier(t)
	issued := mustMint(t, MintIssued, s, issuedClaims())
	raw := rawOf(t, issued)
	body := issued[len(Prefix):]
	withSubject := func(sub byte) string {
		b := append([]byte(nil), raw...)
		b[offSubject] = sub
		return textOf(b)
	}
	withWindow := func(nbf, exp uint32) string {
		b := append([]byte(nil), raw...)
		binary.BigEndian.PutUint32(b[offNBF:], nbf)
		binary.BigEndian.PutUint32(b[offExp:], exp)
		return textOf(b)
	}
	nbf := uint32(t0.Unix())
	dev := rawOf(t, mustDevice(t, s, deviceClaims(), newPhone(t), t0))
	dev[offDeviceKey] = 0x04
	for _, tc := range []struct {
		name, text string
		want       error
	}{
		{"empty", "", errBadPrefix},
		{"prefix only", Prefix, errEmpty},
		{"wrong prefix", "GA2:" + body, errBadPrefix},
		{"lower-case prefix", "ga1:" + body, errBadPrefix},
		{"no prefix", body, errBadPrefix},
		{"lower-case body", Prefix + strings.ToLower(body), errBase45Alphabet},
		{"space padding", issued + "  ", errBase45Overflow}, // a two-char tail worth 36+36*45 > 255
		{"newline", issued + "\n", errBase45Length},
		{"overflowing group", Prefix + "GGW" + body[3:], errBase45Overflow},
		{"one char left over", issued + "0", errBase45Length},
		{"truncated by one byte", textOf(raw[:len(raw)-1]), errTruncated},
		{"truncated to the type", textOf(raw[:1]), errTruncated},
		{"trailing byte", textOf(append(raw[:len(raw):len(raw)], 0)), errTrailing},
		{"trailing bytes", textOf(append(raw[:len(raw):len(raw)], 1, 2)), errTrailing},
		{"too long", Prefix + strings.Repeat("0", MaxTextLen), errTooLong},
		{"huge", Prefix + strings.Repeat("0", 1<<20), errTooLong},
		{"subject 0", withSubject(0), errBadSubject},
		{"subject 4", withSubject(4), errBadSubject},
		{"issued lifetime 29 s", withWindow(nbf, nbf+29), errBadWindow},
		{"issued lifetime 301 s", withWindow(nbf, nbf+301), errBadWindow},
		{"ends before it starts", withWindow(nbf, nbf-60), errBadWindow},
		{"uncompressed device key prefix", textOf(dev), errBadDeviceKey},
	} {
		for _, f := range []func(string) error{
			func(s string) error { _, err := Parse(s); return err },
			func(s string) error { _, err := v.Verify(s, t0); return err },
		} {
			err := f(tc.text)
			if err != tc.want || !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
			}
		}
	}
}

func TestKeys(t *testing.T) {
	s := vectorSigner(t)
	other := newSigner(t, 7)
	text := mustMint(t, MintIssued, s, issuedClaims())
	foreign := mustMint(t, MintIssued, other, issuedClaims())
	badPub := keyOf(s, community)
	badPub.Public = badPub.Public[:31]
	for _, tc := range []struct {
		name string
		v    Verifier
		text string
		want error
	}{
		{"no key set", Verifier{Community: community}, text, ErrUnknownKey},
		{"empty key set", Verifier{Community: community, Keys: mustKeySet(t)}, text, ErrUnknownKey},
		{"nil *KeySet", Verifier{Community: community, Keys: (*KeySet)(nil)}, text, ErrUnknownKey},
		{"unknown kid", Verifier{Community: community, Keys: mustKeySet(t, keyOf(s, community))}, foreign, ErrUnknownKey},
		{"key of another community", Verifier{Community: otherComm, Keys: mustKeySet(t, keyOf(s, community))}, text, ErrWrongCommunity},
		{"verifier without community", Verifier{Keys: mustKeySet(t, keyOf(s, community))}, text, ErrWrongCommunity},
		{"lookup returns a bad key", Verifier{Community: community, Keys: lookupFunc(func(uint32) (Key, bool) { return badPub, true })}, text, ErrUnknownKey},
		{"same kid, other key", Verifier{Community: community, Keys: mustKeySet(t, keyOf(Signer{KID: s.KID, Key: other.Key}, community))}, text, ErrBadSignature},
		{"both communities' keys", Verifier{Community: community, Keys: mustKeySet(t, keyOf(s, community), keyOf(other, otherComm))}, text, nil},
	} {
		_, err := tc.v.Verify(tc.text, t0)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
}

type lookupFunc func(uint32) (Key, bool)

func (f lookupFunc) Lookup(kid uint32) (Key, bool) { return f(kid) }

func TestNewKeySet(t *testing.T) {
	a := keyOf(vectorSigner(t), community)
	short := a
	short.Public = a.Public[:16]
	inverted := a
	inverted.NotBefore, inverted.NotAfter = t0, t0.Add(-time.Second)
	for _, tc := range []struct {
		name string
		keys []Key
		ok   bool
	}{
		{"one", []Key{a}, true},
		{"duplicate kid", []Key{a, a}, false},
		{"short public key", []Key{short}, false},
		{"window inverted", []Key{inverted}, false},
	} {
		s, err := NewKeySet(tc.keys...)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v", tc.name, err)
		}
		if tc.ok && s.Len() != len(tc.keys) {
			t.Errorf("%s: Len = %d", tc.name, s.Len())
		}
	}
	// The set copies the public key: a caller reusing its buffer cannot
	// change what the gate trusts.
	pub := append([]byte(nil), a.Public...)
	k := a
	k.Public = pub
	s := mustKeySet(t, k)
	pub[0] ^= 1
	if got, _ := s.Lookup(a.KID); got.Public[0] != a.Public[0] {
		t.Error("KeySet shares the caller's public key bytes")
	}
}

func TestTimeWindows(t *testing.T) {
	s := vectorSigner(t)
	keys := mustKeySet(t, keyOf(s, community))
	c := issuedClaims()
	issued := mustMint(t, MintIssued, s, c)
	card := mustMint(t, MintCard, s, cardClaims())
	nbf, exp := c.NotBefore, c.ExpiresAt
	ns := time.Nanosecond
	for _, tc := range []struct {
		name string
		skew time.Duration
		text string
		now  time.Time
		want error
	}{
		{"default skew: earliest", 0, issued, nbf.Add(-30 * time.Second), nil},
		{"default skew: too early", 0, issued, nbf.Add(-30*time.Second - ns), ErrNotYetValid},
		{"default skew: latest", 0, issued, exp.Add(30*time.Second - ns), nil},
		{"default skew: too late", 0, issued, exp.Add(30 * time.Second), ErrExpired},
		{"no skew: at not_before", -1, issued, nbf, nil},
		{"no skew: before not_before", -1, issued, nbf.Add(-ns), ErrNotYetValid},
		{"no skew: last instant", -1, issued, exp.Add(-ns), nil},
		{"no skew: at expires_at", -1, issued, exp, ErrExpired},
		{"5 s skew: earliest", 5 * time.Second, issued, nbf.Add(-5 * time.Second), nil},
		{"5 s skew: too late", 5 * time.Second, issued, exp.Add(5 * time.Second), ErrExpired},
		{"card: last day", 0, card, t0.Add(365*24*time.Hour - time.Hour), nil},
		{"card: a year on", 0, card, t0.Add(366 * 24 * time.Hour), ErrExpired},
	} {
		v := Verifier{Community: community, Keys: keys, Skew: tc.skew}
		_, err := v.Verify(tc.text, tc.now)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestDeviceWindows(t *testing.T) {
	s := vectorSigner(t)
	v := vectorVerifier(t)
	phone := newPhone(t)
	c := deviceClaims()
	cert, err := CertifyDevice(s, c, &phone.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	present := t0.Add(7*24*time.Hour + 45*time.Second) // counter window [..30, ..60)
	text, err := PresentDevice(cert, phone, present)
	if err != nil {
		t.Fatal(err)
	}
	start := present.Truncate(30 * time.Second)
	lastCert, err := PresentDevice(cert, phone, c.ExpiresAt.Add(-time.Second))
	if err != nil {
		t.Fatal(err)
	}
	early, err := PresentDevice(cert, phone, c.NotBefore)
	if err != nil {
		t.Fatal(err)
	}
	ns := time.Nanosecond
	for _, tc := range []struct {
		name string
		text string
		now  time.Time
		want error
	}{
		{"at presentation", text, present, nil},
		{"counter: earliest", text, start.Add(-30 * time.Second), nil},
		{"counter: too early", text, start.Add(-30*time.Second - ns), ErrNotYetValid},
		{"counter: latest", text, start.Add(60*time.Second - ns), nil},
		{"counter: too old", text, start.Add(60 * time.Second), ErrExpired},
		{"counter: replayed an hour later", text, present.Add(time.Hour), ErrExpired},
		{"certificate: last valid presentation", lastCert, c.ExpiresAt.Add(29 * time.Second), nil},
		{"certificate: expired", lastCert, c.ExpiresAt.Add(30 * time.Second), ErrExpired},
		{"certificate: not yet valid", early, c.NotBefore.Add(-31 * time.Second), ErrNotYetValid},
	} {
		_, err := v.Verify(tc.text, tc.now)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
}

// signPresentation signs a presentation with any key and any ECDSA nonce,
// as a phone's secure hardware would (randomised, not RFC 6979).
func signPresentation(t *testing.T, raw []byte, key *ecdsa.PrivateKey) string {
	t.Helper()
	msg := append([]byte(labelPresentation), raw[:presBody]...)
	digest := sha256.Sum256(msg)
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	b := append([]byte(nil), raw...)
	r.FillBytes(b[offPhoneSig : offPhoneSig+32])
	s.FillBytes(b[offPhoneSig+32 : deviceLen])
	return textOf(b)
}

func TestDevicePhoneSignature(t *testing.T) {
	s := vectorSigner(t)
	v := vectorVerifier(t)
	phone, thief := newPhone(t), newPhone(t)
	raw := rawOf(t, mustDevice(t, s, deviceClaims(), phone, t0))
	n := elliptic.P256().Params().N
	highS := func() string {
		// (r, n-s) is the other valid signature of the same message; phones
		// produce either, so both must verify.
		b := append([]byte(nil), raw...)
		sv := new(big.Int).SetBytes(b[offPhoneSig+32 : deviceLen])
		new(big.Int).Sub(n, sv).FillBytes(b[offPhoneSig+32 : deviceLen])
		return textOf(b)
	}
	withSig := func(r, sv *big.Int) string {
		b := append([]byte(nil), raw...)
		r.FillBytes(b[offPhoneSig : offPhoneSig+32])
		sv.FillBytes(b[offPhoneSig+32 : deviceLen])
		return textOf(b)
	}
	one := big.NewInt(1)
	for _, tc := range []struct {
		name string
		text string
		want error
	}{
		{"randomised signature by the phone", signPresentation(t, raw, phone), nil},
		{"other half of the signature pair", highS(), nil},
		{"signed by a different phone key", signPresentation(t, raw, thief), ErrBadSignature},
		{"r = 0", withSig(new(big.Int), one), ErrBadSignature},
		{"s = 0", withSig(one, new(big.Int)), ErrBadSignature},
		{"r = n", withSig(n, one), ErrBadSignature},
		{"r, s = 2^256-1", withSig(new(big.Int).Sub(new(big.Int).Lsh(one, 256), one), new(big.Int).Sub(new(big.Int).Lsh(one, 256), one)), ErrBadSignature},
	} {
		_, err := v.Verify(tc.text, t0)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
}

// TestKeyRotation: old key retired at T, new key active from T.
func TestKeyRotation(t *testing.T) {
	oldS, newS := newSigner(t, 100), newSigner(t, 101)
	T := t0.Add(time.Hour)
	oldK, newK := keyOf(oldS, community), keyOf(newS, community)
	oldK.NotBefore, oldK.NotAfter = t0.Add(-24*time.Hour), T
	newK.NotBefore = T
	v := Verifier{Community: community, Keys: mustKeySet(t, oldK, newK)}
	retention := RetiredKeyRetention(DefaultSkew)
	if want := MaxCardLifetime + DefaultSkew; retention != want {
		t.Fatalf("retention = %s, want %s", retention, want)
	}
	if got := oldK.PublishedUntil(DefaultSkew); !got.Equal(T.Add(retention)) {
		t.Fatalf("PublishedUntil = %s", got)
	}
	if got := newK.PublishedUntil(DefaultSkew); !got.IsZero() {
		t.Fatalf("active key PublishedUntil = %s, want zero", got)
	}

	issuedAt := func(s Signer, nbf time.Time) string {
		c := issuedClaims()
		c.NotBefore, c.ExpiresAt = nbf, nbf.Add(MaxIssuedLifetime)
		return mustMint(t, MintIssued, s, c)
	}
	// The longest-lived token the old key can sign: a full-length card
	// whose window starts the second before retirement.
	lastCard := cardClaims()
	lastCard.NotBefore = T.Add(-time.Second)
	lastCard.ExpiresAt = lastCard.NotBefore.Add(MaxCardLifetime)
	card := mustMint(t, MintCard, oldS, lastCard)
	ns := time.Nanosecond
	for _, tc := range []struct {
		name string
		text string
		now  time.Time
		want error
	}{
		{"signed just before rotation, scanned after", issuedAt(oldS, T.Add(-10*time.Second)), T.Add(20 * time.Second), nil},
		{"new key after rotation", issuedAt(newS, T), T.Add(time.Second), nil},
		{"old key used after its retirement", issuedAt(oldS, T), T.Add(time.Second), ErrUnknownKey},
		{"new key used before its start", issuedAt(newS, T.Add(-time.Second)), T, ErrUnknownKey},
		{"old key's last card at its last valid instant", card, lastCard.ExpiresAt.Add(DefaultSkew - ns), nil},
		{"old key's last card a moment later", card, lastCard.ExpiresAt.Add(DefaultSkew), ErrExpired},
		{"retired key after its publication window", card, T.Add(retention), ErrUnknownKey},
	} {
		_, err := v.Verify(tc.text, tc.now)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	// The publication window outlasts every token: the card's last valid
	// instant comes before the key may be dropped.
	if !lastCard.ExpiresAt.Add(DefaultSkew).Before(oldK.PublishedUntil(DefaultSkew)) {
		t.Error("retired key dropped before its last token expired")
	}
}

func TestMintErrors(t *testing.T) {
	s := vectorSigner(t)
	phone := newPhone(t)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), nil)
	if err != nil {
		t.Fatal(err)
	}
	mod := func(base Claims, f func(*Claims)) Claims { f(&base); return base }
	life := func(base Claims, d time.Duration) Claims {
		return mod(base, func(c *Claims) { c.ExpiresAt = c.NotBefore.Add(d) })
	}
	issued := func(c Claims) error { _, err := MintIssued(s, c); return err }
	card := func(c Claims) error { _, err := MintCard(s, c); return err }
	device := func(c Claims) error { _, err := CertifyDevice(s, c, &phone.PublicKey); return err }
	for _, tc := range []struct {
		name string
		mint func(Claims) error
		c    Claims
		want error
	}{
		{"issued 30 s", issued, life(issuedClaims(), 30*time.Second), nil},
		{"issued 300 s", issued, life(issuedClaims(), 300*time.Second), nil},
		{"issued 29 s", issued, life(issuedClaims(), 29*time.Second), ErrLifetime},
		{"issued 301 s", issued, life(issuedClaims(), 301*time.Second), ErrLifetime},
		{"issued 299.9 s truncates to 299", issued, life(issuedClaims(), 299*time.Second+900*time.Millisecond), nil},
		{"card 366 days", card, life(cardClaims(), MaxCardLifetime), nil},
		{"card 366 days + 1 s", card, life(cardClaims(), MaxCardLifetime+time.Second), ErrLifetime},
		{"card empty window", card, life(cardClaims(), 0), ErrLifetime},
		{"device 30 days", device, life(deviceClaims(), MaxDeviceCertLifetime), nil},
		{"device 30 days + 1 s", device, life(deviceClaims(), MaxDeviceCertLifetime+time.Second), ErrLifetime},
		{"device negative", device, life(deviceClaims(), -time.Hour), ErrLifetime},
		{"nil credential id", issued, mod(issuedClaims(), func(c *Claims) { c.CredentialID = uuid.Nil }), ErrInvalidClaims},
		{"subject 0", card, mod(cardClaims(), func(c *Claims) { c.Subject = 0 }), ErrInvalidClaims},
		{"subject 4", device, mod(deviceClaims(), func(c *Claims) { c.Subject = 4 }), ErrInvalidClaims},
		{"zero times", issued, mod(issuedClaims(), func(c *Claims) { c.NotBefore, c.ExpiresAt = time.Time{}, time.Time{}.Add(time.Minute) }), ErrInvalidClaims},
		{"before 1970", issued, life(mod(issuedClaims(), func(c *Claims) { c.NotBefore = time.Unix(-10, 0) }), time.Minute), ErrInvalidClaims},
		{"after 2106", card, life(mod(cardClaims(), func(c *Claims) { c.NotBefore = time.Unix(1<<32-60, 0) }), time.Hour), ErrInvalidClaims},
		{"last second of 2106", card, mod(cardClaims(), func(c *Claims) { c.NotBefore, c.ExpiresAt = time.Unix(1<<32-61, 0), time.Unix(1<<32-1, 0) }), nil},
	} {
		err := tc.mint(tc.c)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}

	for _, tc := range []struct {
		name string
		f    func() error
		want error
	}{
		{"signer without key", func() error { _, err := MintIssued(Signer{KID: 1}, issuedClaims()); return err }, ErrInvalidClaims},
		{"P-384 phone key", func() error { _, err := CertifyDevice(s, deviceClaims(), &p384.PublicKey); return err }, ErrInvalidClaims},
		{"nil phone key", func() error { _, err := CertifyDevice(s, deviceClaims(), nil); return err }, ErrInvalidClaims},
	} {
		if err := tc.f(); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestPresentDeviceErrors(t *testing.T) {
	s := vectorSigner(t)
	phone, other := newPhone(t), newPhone(t)
	c := deviceClaims()
	cert, err := CertifyDevice(s, c, &phone.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	badSubject := append([]byte(nil), cert...)
	badSubject[offSubject] = 9
	issuedRaw := rawOf(t, mustMint(t, MintIssued, s, issuedClaims()))
	for _, tc := range []struct {
		name string
		cert []byte
		key  *ecdsa.PrivateKey
		now  time.Time
		want error
	}{
		{"ok", cert, phone, c.NotBefore, nil},
		{"last second", cert, phone, c.ExpiresAt.Add(-time.Nanosecond), nil},
		{"expired", cert, phone, c.ExpiresAt, ErrExpired},
		{"other phone's key", cert, other, c.NotBefore, ErrInvalidClaims},
		{"nil key", cert, nil, c.NotBefore, ErrInvalidClaims},
		{"truncated certificate", cert[:certLen-1], phone, c.NotBefore, ErrMalformed},
		{"certificate with trailing byte", append(cert[:certLen:certLen], 0), phone, c.NotBefore, ErrMalformed},
		{"bad subject", badSubject, phone, c.NotBefore, ErrMalformed},
		{"an issued token", issuedRaw, phone, c.NotBefore, ErrMalformed},
		{"nil", nil, phone, c.NotBefore, ErrMalformed},
	} {
		_, err := PresentDevice(tc.cert, tc.key, tc.now)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestReplayKey(t *testing.T) {
	base := Claims{CredentialID: credA, Nonce: 1, Counter: 1}
	with := func(f func(*Claims)) [ReplayKeySize]byte { c := base; f(&c); return c.ReplayKey() }
	issued := with(func(c *Claims) { c.Type = TypeIssued })
	for _, tc := range []struct {
		name string
		a, b [ReplayKeySize]byte
		same bool
	}{
		{"issued: other nonce", issued, with(func(c *Claims) { c.Type, c.Nonce = TypeIssued, 2 }), false},
		{"issued: other credential", issued, with(func(c *Claims) { c.Type, c.CredentialID = TypeIssued, credB }), false},
		{"issued: counter ignored", issued, with(func(c *Claims) { c.Type, c.Counter = TypeIssued, 9 }), true},
		{"device: other counter", with(func(c *Claims) { c.Type = TypeDevice }), with(func(c *Claims) { c.Type, c.Counter = TypeDevice, 2 }), false},
		{"device: nonce ignored", with(func(c *Claims) { c.Type = TypeDevice }), with(func(c *Claims) { c.Type, c.Nonce = TypeDevice, 2 }), true},
		{"card: nonce ignored", with(func(c *Claims) { c.Type = TypeCard }), with(func(c *Claims) { c.Type, c.Nonce = TypeCard, 2 }), true},
		{"card: other credential", with(func(c *Claims) { c.Type = TypeCard }), with(func(c *Claims) { c.Type, c.CredentialID = TypeCard, credB }), false},
		{"issued vs card", issued, with(func(c *Claims) { c.Type = TypeCard }), false},
		{"issued vs device", issued, with(func(c *Claims) { c.Type = TypeDevice }), false},
	} {
		if (tc.a == tc.b) != tc.same {
			t.Errorf("%s: %x vs %x, want same=%v", tc.name, tc.a, tc.b, tc.same)
		}
	}
}

func TestStrings(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{TypeIssued.String(), "issued"},
		{TypeDevice.String(), "device"},
		{TypeCard.String(), "card"},
		{Type(9).String(), "Type(9)"},
		{SubjectResident.String(), "resident"},
		{SubjectVisitor.String(), "visitor"},
		{SubjectStaff.String(), "staff"},
		{Subject(0).String(), "Subject(0)"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	if want := 4 + 203/2*3 + 2; MaxTextLen != want {
		t.Errorf("MaxTextLen = %d, want %d", MaxTextLen, want)
	}
}

// TestAllocations: the verify path allocates exactly what the bare crypto
// calls allocate, and rejecting garbage allocates nothing.
func TestAllocations(t *testing.T) {
	s := vectorSigner(t)
	phone := vectorPhone(t)
	v := vectorVerifier(t)
	issued := mustMint(t, MintIssued, s, issuedClaims())
	card := mustMint(t, MintCard, s, cardClaims())
	device := mustDevice(t, s, deviceClaims(), phone, t0)
	badSig := issued[:len(issued)-3] + "000"
	for _, tc := range []struct {
		name    string
		text    string
		bare    func() bool
		wantErr bool
	}{
		{"issued", issued, newBareIssued(t, issued).verify, false},
		{"card", card, newBareIssued(t, card).verify, false},
		{"device", device, newBareDevice(t, device).verify, false},
		{"garbage", "GA1:" + strings.Repeat("%", 165), nil, true},
		{"bad prefix", "HELLO", nil, true},
		{"bad signature", badSig, newBareIssued(t, badSig).verify, true},
	} {
		var bareAllocs float64
		if tc.bare != nil {
			bareAllocs = testing.AllocsPerRun(20, func() { tc.bare() })
		}
		got := testing.AllocsPerRun(20, func() {
			if _, err := v.Verify(tc.text, t0); (err != nil) != tc.wantErr {
				t.Fatal(err)
			}
		})
		if got > bareAllocs {
			t.Errorf("%s: Verify allocates %v times, bare crypto %v", tc.name, got, bareAllocs)
		}
		t.Logf("%s: Verify %v allocs, bare crypto %v", tc.name, got, bareAllocs)
	}
	if n := testing.AllocsPerRun(20, func() { v.Keys.Lookup(vectorKID) }); n != 0 {
		t.Errorf("KeySet.Lookup allocates %v times", n)
	}
}
